-- Obligations by status and the compliance rate for every grouping the compliance views show
-- (grouped_by: department_month, department_quarter, rule_month, service_month, owner_month,
-- owner_quarter), summed over the summary tables by the local due date's month or quarter.
-- The other v_compliance_* views select their grouping from here, so the rate is defined once:
-- compliance_rate = met_on_time / (met_on_time + met_late + breached): decided obligations
-- only (WAIVED and PENDING are in neither part); NULL when none is decided. `department` is
-- the crime's, `owner` the department that must meet the obligation (RULES.md v2).
-- agreed_method_rate = agreed_method_kept / agreed_method_compared: of the met obligations
-- that keep the victim informed and have an agreed method to compare, the share met by it;
-- NULL when there is none. Same text on SQLite and PostgreSQL. The typed NULLs keep each key
-- column's type on PostgreSQL.
SELECT grouped_by, due_month, due_quarter, department, owner, rule, service,
       due, met_on_time, met_late, breached, pending, waived,
       CASE WHEN met_on_time + met_late + breached > 0
            THEN CAST(met_on_time AS DOUBLE PRECISION) / (met_on_time + met_late + breached)
       END AS compliance_rate,
       agreed_method_compared, agreed_method_kept,
       CASE WHEN agreed_method_compared > 0
            THEN CAST(agreed_method_kept AS DOUBLE PRECISION) / agreed_method_compared
       END AS agreed_method_rate
FROM (
    SELECT 'department_month' AS grouped_by, due_month, CAST(NULL AS VARCHAR(6)) AS due_quarter,
           department, CAST(NULL AS VARCHAR(64)) AS owner, CAST(NULL AS VARCHAR(64)) AS rule,
           CAST(NULL AS TEXT) AS service,
           SUM(due) AS due, SUM(met_on_time) AS met_on_time, SUM(met_late) AS met_late,
           SUM(breached) AS breached, SUM(pending) AS pending, SUM(waived) AS waived,
           SUM(agreed_method_compared) AS agreed_method_compared,
           SUM(agreed_method_kept) AS agreed_method_kept
    FROM compliance_monthly
    GROUP BY due_month, department
    UNION ALL
    SELECT 'department_quarter', CAST(NULL AS VARCHAR(7)), due_quarter,
           department, CAST(NULL AS VARCHAR(64)), CAST(NULL AS VARCHAR(64)), CAST(NULL AS TEXT),
           SUM(due), SUM(met_on_time), SUM(met_late), SUM(breached), SUM(pending), SUM(waived),
           SUM(agreed_method_compared), SUM(agreed_method_kept)
    FROM compliance_quarterly
    GROUP BY due_quarter, department
    UNION ALL
    SELECT 'rule_month', due_month, CAST(NULL AS VARCHAR(6)),
           CAST(NULL AS VARCHAR(64)), CAST(NULL AS VARCHAR(64)), rule, CAST(NULL AS TEXT),
           SUM(due), SUM(met_on_time), SUM(met_late), SUM(breached), SUM(pending), SUM(waived),
           SUM(agreed_method_compared), SUM(agreed_method_kept)
    FROM compliance_monthly
    GROUP BY due_month, rule
    UNION ALL
    SELECT 'service_month', due_month, CAST(NULL AS VARCHAR(6)),
           department, CAST(NULL AS VARCHAR(64)), CAST(NULL AS VARCHAR(64)),
           CASE WHEN enhanced THEN 'enhanced' ELSE 'standard' END,
           SUM(due), SUM(met_on_time), SUM(met_late), SUM(breached), SUM(pending), SUM(waived),
           SUM(agreed_method_compared), SUM(agreed_method_kept)
    FROM compliance_monthly
    GROUP BY due_month, department, CASE WHEN enhanced THEN 'enhanced' ELSE 'standard' END
    UNION ALL
    SELECT 'owner_month', due_month, CAST(NULL AS VARCHAR(6)),
           CAST(NULL AS VARCHAR(64)), owner, CAST(NULL AS VARCHAR(64)), CAST(NULL AS TEXT),
           SUM(due), SUM(met_on_time), SUM(met_late), SUM(breached), SUM(pending), SUM(waived),
           SUM(agreed_method_compared), SUM(agreed_method_kept)
    FROM compliance_monthly
    GROUP BY due_month, owner
    UNION ALL
    SELECT 'owner_quarter', CAST(NULL AS VARCHAR(7)), due_quarter,
           CAST(NULL AS VARCHAR(64)), owner, CAST(NULL AS VARCHAR(64)), CAST(NULL AS TEXT),
           SUM(due), SUM(met_on_time), SUM(met_late), SUM(breached), SUM(pending), SUM(waived),
           SUM(agreed_method_compared), SUM(agreed_method_kept)
    FROM compliance_quarterly
    GROUP BY due_quarter, owner
) AS counts
