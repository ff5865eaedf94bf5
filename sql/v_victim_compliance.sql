-- The board paper's Q1 per department and month of the crime report: a victim is Victims
-- Code compliant when none of its obligations is BREACHED or MET_LATE (RULES.md).
-- compliance_rate = compliant victims / victims. Same text on SQLite and PostgreSQL.
SELECT report_month, department,
       COUNT(*) AS victims,
       SUM(CASE WHEN compliant THEN 1 ELSE 0 END) AS compliant,
       SUM(CASE WHEN compliant THEN 0 ELSE 1 END) AS not_compliant,
       SUM(CASE WHEN pending > 0 THEN 1 ELSE 0 END) AS with_pending,
       CAST(SUM(CASE WHEN compliant THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / COUNT(*)
           AS compliance_rate
FROM victim_compliance
GROUP BY report_month, department
