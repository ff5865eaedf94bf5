-- Victims Code compliance per owner (the department that must meet each obligation: the
-- crime's department, or the witness care unit after charge, RULES.md v2) and quarter of the
-- local due date: the counts and compliance_rate of v_compliance_base. Same text on SQLite
-- and PostgreSQL.
SELECT due_quarter, owner, due, met_on_time, met_late, breached, pending, waived,
       compliance_rate
FROM v_compliance_base
WHERE grouped_by = 'owner_quarter'
