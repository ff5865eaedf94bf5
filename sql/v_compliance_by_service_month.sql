-- Compliance of enhanced-service victims against standard ones, per department and month
-- of the local due date: the counts and compliance_rate of v_compliance_base. Same text on
-- SQLite and PostgreSQL.
SELECT due_month, department, service,
       due, met_on_time, met_late, breached, pending, waived,
       compliance_rate
FROM v_compliance_base
WHERE grouped_by = 'service_month'
