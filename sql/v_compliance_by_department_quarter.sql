-- Victims Code compliance per department and quarter of the local due date (all rules,
-- enhanced and standard victims together).
-- compliance_rate = met_on_time / (met_on_time + met_late + breached): decided obligations
-- only; NULL when none is decided. Same text on SQLite and PostgreSQL (created by migration
-- 0002_obligations; the view is named after this file).
SELECT due_quarter, department,
       SUM(due) AS due, SUM(met_on_time) AS met_on_time, SUM(met_late) AS met_late,
       SUM(breached) AS breached, SUM(pending) AS pending,
       CASE WHEN SUM(met_on_time) + SUM(met_late) + SUM(breached) > 0
            THEN CAST(SUM(met_on_time) AS DOUBLE PRECISION)
                 / (SUM(met_on_time) + SUM(met_late) + SUM(breached))
       END AS compliance_rate
FROM compliance_quarterly
GROUP BY due_quarter, department
