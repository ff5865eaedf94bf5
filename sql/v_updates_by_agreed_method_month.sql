-- The board paper's primary concern, per department and month of the local due date: of the
-- met obligations (MET, MET_LATE) that keep the victim informed and have an agreed method of
-- contact to compare (channel_as_agreed not NULL), how many were met by that method
-- (agreed_method_kept) and their share (agreed_method_rate, NULL when none), from
-- v_compliance_base. Same text on SQLite and PostgreSQL.
SELECT due_month, department, agreed_method_compared, agreed_method_kept, agreed_method_rate
FROM v_compliance_base
WHERE grouped_by = 'department_month'
