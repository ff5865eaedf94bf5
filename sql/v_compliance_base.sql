-- Obligations by status and the compliance rate for every grouping the compliance views show
-- (grouped_by: department_month, department_quarter, rule_month, service_month), summed over
-- the summary tables by the local due date's month or quarter. The other v_compliance_* views
-- select their grouping from here, so the rate is defined once:
-- compliance_rate = met_on_time / (met_on_time + met_late + breached): decided obligations
-- only; NULL when none is decided. Same text on SQLite and PostgreSQL. The typed NULLs keep
-- each key column's type on PostgreSQL.
SELECT grouped_by, due_month, due_quarter, department, rule, service,
       due, met_on_time, met_late, breached, pending,
       CASE WHEN met_on_time + met_late + breached > 0
            THEN CAST(met_on_time AS DOUBLE PRECISION) / (met_on_time + met_late + breached)
       END AS compliance_rate
FROM (
    SELECT 'department_month' AS grouped_by, due_month, CAST(NULL AS VARCHAR(6)) AS due_quarter,
           department, CAST(NULL AS VARCHAR(64)) AS rule, CAST(NULL AS TEXT) AS service,
           SUM(due) AS due, SUM(met_on_time) AS met_on_time, SUM(met_late) AS met_late,
           SUM(breached) AS breached, SUM(pending) AS pending
    FROM compliance_monthly
    GROUP BY due_month, department
    UNION ALL
    SELECT 'department_quarter', CAST(NULL AS VARCHAR(7)), due_quarter,
           department, CAST(NULL AS VARCHAR(64)), CAST(NULL AS TEXT),
           SUM(due), SUM(met_on_time), SUM(met_late), SUM(breached), SUM(pending)
    FROM compliance_quarterly
    GROUP BY due_quarter, department
    UNION ALL
    SELECT 'rule_month', due_month, CAST(NULL AS VARCHAR(6)),
           CAST(NULL AS VARCHAR(64)), rule, CAST(NULL AS TEXT),
           SUM(due), SUM(met_on_time), SUM(met_late), SUM(breached), SUM(pending)
    FROM compliance_monthly
    GROUP BY due_month, rule
    UNION ALL
    SELECT 'service_month', due_month, CAST(NULL AS VARCHAR(6)),
           department, CAST(NULL AS VARCHAR(64)),
           CASE WHEN enhanced THEN 'enhanced' ELSE 'standard' END,
           SUM(due), SUM(met_on_time), SUM(met_late), SUM(breached), SUM(pending)
    FROM compliance_monthly
    GROUP BY due_month, department, CASE WHEN enhanced THEN 'enhanced' ELSE 'standard' END
) AS counts
