-- Victims Code compliance per department and quarter of the local due date (all rules,
-- enhanced and standard victims together): the counts and compliance_rate of
-- v_compliance_base. Same text on SQLite and PostgreSQL.
SELECT due_quarter, department, due, met_on_time, met_late, breached, pending, waived,
       compliance_rate
FROM v_compliance_base
WHERE grouped_by = 'department_quarter'
