-- Compliance of enhanced-service victims against standard ones, per department and month
-- of the local due date.
-- compliance_rate = met_on_time / (met_on_time + met_late + breached): decided obligations
-- only; NULL when none is decided. Same text on SQLite and PostgreSQL (created by migration
-- 0002_obligations; the view is named after this file).
SELECT due_month, department,
       CASE WHEN enhanced THEN 'enhanced' ELSE 'standard' END AS service,
       SUM(due) AS due, SUM(met_on_time) AS met_on_time, SUM(met_late) AS met_late,
       SUM(breached) AS breached, SUM(pending) AS pending,
       CASE WHEN SUM(met_on_time) + SUM(met_late) + SUM(breached) > 0
            THEN CAST(SUM(met_on_time) AS DOUBLE PRECISION)
                 / (SUM(met_on_time) + SUM(met_late) + SUM(breached))
       END AS compliance_rate
FROM compliance_monthly
GROUP BY due_month, department, CASE WHEN enhanced THEN 'enhanced' ELSE 'standard' END
