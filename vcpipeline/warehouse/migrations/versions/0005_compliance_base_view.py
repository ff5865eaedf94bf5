"""One definition of the compliance rate: the compliance views select it from `v_compliance_base`.

Revision ID: 0005_compliance_base_view
Revises: 0004_samples
Create Date: 2026-11-29

`v_compliance_base` sums the summary tables for every grouping the compliance views show and
computes met_on_time / (met_on_time + met_late + breached) once; the four `v_compliance_by_*`
views are rebuilt to select their grouping from it, with the same columns and rows as before.
The SQL is inlined as it was in `sql/` at this revision (and, to downgrade, as 0002 made it).
"""

from __future__ import annotations

from alembic import op

revision: str = "0005_compliance_base_view"
down_revision: str | None = "0004_samples"
branch_labels: str | None = None
depends_on: str | None = None

# In creation order: the base view first.
VIEWS: dict[str, str] = {
    "v_compliance_base": """\
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
) AS counts""",
    "v_compliance_by_department_month": """\
-- Victims Code compliance per department and month of the local due date (all rules,
-- enhanced and standard victims together): the counts and compliance_rate of
-- v_compliance_base. Same text on SQLite and PostgreSQL.
SELECT due_month, department, due, met_on_time, met_late, breached, pending, compliance_rate
FROM v_compliance_base
WHERE grouped_by = 'department_month'""",
    "v_compliance_by_department_quarter": """\
-- Victims Code compliance per department and quarter of the local due date (all rules,
-- enhanced and standard victims together): the counts and compliance_rate of
-- v_compliance_base. Same text on SQLite and PostgreSQL.
SELECT due_quarter, department, due, met_on_time, met_late, breached, pending, compliance_rate
FROM v_compliance_base
WHERE grouped_by = 'department_quarter'""",
    "v_compliance_by_rule_month": """\
-- Force-wide compliance per rule (board-paper question) and month of the local due date: the
-- counts and compliance_rate of v_compliance_base. Same text on SQLite and PostgreSQL.
SELECT due_month, rule, due, met_on_time, met_late, breached, pending, compliance_rate
FROM v_compliance_base
WHERE grouped_by = 'rule_month'""",
    "v_compliance_by_service_month": """\
-- Compliance of enhanced-service victims against standard ones, per department and month
-- of the local due date: the counts and compliance_rate of v_compliance_base. Same text on
-- SQLite and PostgreSQL.
SELECT due_month, department, service,
       due, met_on_time, met_late, breached, pending, compliance_rate
FROM v_compliance_base
WHERE grouped_by = 'service_month'""",
}

# The compliance views as 0002_obligations made them, each with its own rate formula.
PREVIOUS_VIEWS: dict[str, str] = {
    "v_compliance_by_department_month": """\
-- Victims Code compliance per department and month of the local due date (all rules,
-- enhanced and standard victims together).
-- compliance_rate = met_on_time / (met_on_time + met_late + breached): decided obligations
-- only; NULL when none is decided. Same text on SQLite and PostgreSQL (created by migration
-- 0002_obligations; the view is named after this file).
SELECT due_month, department,
       SUM(due) AS due, SUM(met_on_time) AS met_on_time, SUM(met_late) AS met_late,
       SUM(breached) AS breached, SUM(pending) AS pending,
       CASE WHEN SUM(met_on_time) + SUM(met_late) + SUM(breached) > 0
            THEN CAST(SUM(met_on_time) AS DOUBLE PRECISION)
                 / (SUM(met_on_time) + SUM(met_late) + SUM(breached))
       END AS compliance_rate
FROM compliance_monthly
GROUP BY due_month, department""",
    "v_compliance_by_department_quarter": """\
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
GROUP BY due_quarter, department""",
    "v_compliance_by_rule_month": """\
-- Force-wide compliance per rule (board-paper question) and month of the local due date.
-- compliance_rate = met_on_time / (met_on_time + met_late + breached): decided obligations
-- only; NULL when none is decided. Same text on SQLite and PostgreSQL (created by migration
-- 0002_obligations; the view is named after this file).
SELECT due_month, rule,
       SUM(due) AS due, SUM(met_on_time) AS met_on_time, SUM(met_late) AS met_late,
       SUM(breached) AS breached, SUM(pending) AS pending,
       CASE WHEN SUM(met_on_time) + SUM(met_late) + SUM(breached) > 0
            THEN CAST(SUM(met_on_time) AS DOUBLE PRECISION)
                 / (SUM(met_on_time) + SUM(met_late) + SUM(breached))
       END AS compliance_rate
FROM compliance_monthly
GROUP BY due_month, rule""",
    "v_compliance_by_service_month": """\
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
GROUP BY due_month, department, CASE WHEN enhanced THEN 'enhanced' ELSE 'standard' END""",
}


def upgrade() -> None:
    for name in PREVIOUS_VIEWS:
        op.execute(f"DROP VIEW {name}")
    for name, select in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS\n{select}")


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW {name}")
    for name, select in PREVIOUS_VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS\n{select}")
