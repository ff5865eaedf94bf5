-- Force-wide compliance per rule (board-paper question) and month of the local due date: the
-- counts and compliance_rate of v_compliance_base. Same text on SQLite and PostgreSQL.
SELECT due_month, rule, due, met_on_time, met_late, breached, pending, waived,
       compliance_rate
FROM v_compliance_base
WHERE grouped_by = 'rule_month'
