"""Victims Code version 2: the victim's choices, WAIVED, who owns each obligation and how it was met.

Revision ID: 0006_victims_code_v2
Revises: 0005_compliance_base_view
Create Date: 2026-11-29

- `case_events.interval_days`: a CONTACT_AGREED's agreed longest gap between updates (`channel`
  is there since 0001).
- `crimes.witness_care_team`: the witness care team of the crime's court area, which the alerts
  of obligations witness care owns after charge are routed to (NULL: its default lead).
- `obligations.owner` (existing rows: the crime's department, as version 1 had it),
  `met_channel`, `channel_as_agreed` (NULL: nothing to compare). `status` has no constraint, so
  WAIVED needs none changed.
- The summary tables (derived data, rebuilt by the next summary load) are made again empty:
  `owner` joins the compliance tables' key; `waived` is counted on its own, outside the rate;
  `agreed_method_compared` and `agreed_method_kept` count the updates by the victim's agreed
  method. `victim_compliance` gains `waived`.
- Views: `v_compliance_base` adds those counts, the owner groupings and `agreed_method_rate`;
  new `v_compliance_by_owner_month`, `v_compliance_by_owner_quarter` and
  `v_updates_by_agreed_method_month`. The SQL is inlined as it was in `sql/` at this revision
  (and, to downgrade, as 0005 made it).

Long because a frozen revision inlines every view it makes or restores (the SQL of its time,
never read from `sql/`) and spells out both shapes of the summary tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_victims_code_v2"
down_revision: str | None = "0005_compliance_base_view"
branch_labels: str | None = None
depends_on: str | None = None

SUMMARY_TABLES = ("compliance_daily", "compliance_monthly", "compliance_quarterly", "victim_compliance")

# In creation order: the base view first.
VIEWS: dict[str, str] = {
    "v_compliance_base": """\
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
) AS counts""",
    "v_compliance_by_department_month": """\
-- Victims Code compliance per department and month of the local due date (all rules,
-- enhanced and standard victims together): the counts and compliance_rate of
-- v_compliance_base. Same text on SQLite and PostgreSQL.
SELECT due_month, department, due, met_on_time, met_late, breached, pending, waived,
       compliance_rate
FROM v_compliance_base
WHERE grouped_by = 'department_month'""",
    "v_compliance_by_department_quarter": """\
-- Victims Code compliance per department and quarter of the local due date (all rules,
-- enhanced and standard victims together): the counts and compliance_rate of
-- v_compliance_base. Same text on SQLite and PostgreSQL.
SELECT due_quarter, department, due, met_on_time, met_late, breached, pending, waived,
       compliance_rate
FROM v_compliance_base
WHERE grouped_by = 'department_quarter'""",
    "v_compliance_by_rule_month": """\
-- Force-wide compliance per rule (board-paper question) and month of the local due date: the
-- counts and compliance_rate of v_compliance_base. Same text on SQLite and PostgreSQL.
SELECT due_month, rule, due, met_on_time, met_late, breached, pending, waived,
       compliance_rate
FROM v_compliance_base
WHERE grouped_by = 'rule_month'""",
    "v_compliance_by_service_month": """\
-- Compliance of enhanced-service victims against standard ones, per department and month
-- of the local due date: the counts and compliance_rate of v_compliance_base. Same text on
-- SQLite and PostgreSQL.
SELECT due_month, department, service,
       due, met_on_time, met_late, breached, pending, waived,
       compliance_rate
FROM v_compliance_base
WHERE grouped_by = 'service_month'""",
    "v_compliance_by_owner_month": """\
-- Victims Code compliance per owner (the department that must meet each obligation: the
-- crime's department, or the witness care unit after charge, RULES.md v2) and month of the
-- local due date: the counts and compliance_rate of v_compliance_base. Same text on SQLite
-- and PostgreSQL.
SELECT due_month, owner, due, met_on_time, met_late, breached, pending, waived,
       compliance_rate
FROM v_compliance_base
WHERE grouped_by = 'owner_month'""",
    "v_compliance_by_owner_quarter": """\
-- Victims Code compliance per owner (the department that must meet each obligation: the
-- crime's department, or the witness care unit after charge, RULES.md v2) and quarter of the
-- local due date: the counts and compliance_rate of v_compliance_base. Same text on SQLite
-- and PostgreSQL.
SELECT due_quarter, owner, due, met_on_time, met_late, breached, pending, waived,
       compliance_rate
FROM v_compliance_base
WHERE grouped_by = 'owner_quarter'""",
    "v_updates_by_agreed_method_month": """\
-- The board paper's primary concern, per department and month of the local due date: of the
-- met obligations (MET, MET_LATE) that keep the victim informed and have an agreed method of
-- contact to compare (channel_as_agreed not NULL), how many were met by that method
-- (agreed_method_kept) and their share (agreed_method_rate, NULL when none), from
-- v_compliance_base. Same text on SQLite and PostgreSQL.
SELECT due_month, department, agreed_method_compared, agreed_method_kept, agreed_method_rate
FROM v_compliance_base
WHERE grouped_by = 'department_month'""",
}

# The victims' views of 0002, unchanged, made again over the new `victim_compliance`.
VICTIM_VIEWS: dict[str, str] = {
    "v_victim_compliance": """\
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
GROUP BY report_month, department""",
    "v_victim_compliance_by_department_quarter": """\
-- The board paper's Q1 per department and quarter of the crime report: a victim is Victims
-- Code compliant when none of its obligations is BREACHED or MET_LATE (RULES.md).
-- compliance_rate = compliant victims / victims. Same text on SQLite and PostgreSQL.
SELECT report_quarter, department,
       COUNT(*) AS victims,
       SUM(CASE WHEN compliant THEN 1 ELSE 0 END) AS compliant,
       SUM(CASE WHEN compliant THEN 0 ELSE 1 END) AS not_compliant,
       SUM(CASE WHEN pending > 0 THEN 1 ELSE 0 END) AS with_pending,
       CAST(SUM(CASE WHEN compliant THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / COUNT(*)
           AS compliance_rate
FROM victim_compliance
GROUP BY report_quarter, department""",
}

# The views as 0005_compliance_base_view made them.
PREVIOUS_VIEWS: dict[str, str] = {
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


def _counts(*, v2: bool) -> list[sa.Column]:
    return [
        sa.Column("due", sa.Integer, nullable=False),
        sa.Column("met_on_time", sa.Integer, nullable=False),
        sa.Column("met_late", sa.Integer, nullable=False),
        sa.Column("breached", sa.Integer, nullable=False),
        sa.Column("pending", sa.Integer, nullable=False),
        *([sa.Column("waived", sa.Integer, nullable=False)] if v2 else []),
        sa.Column("compliance_rate", sa.Float),
        *([sa.Column("agreed_method_compared", sa.Integer, nullable=False),
           sa.Column("agreed_method_kept", sa.Integer, nullable=False)] if v2 else []),
    ]


def _compliance_table(name: str, period: str, width: int, *, v2: bool) -> None:
    periods = [sa.Column(period, sa.String(width), nullable=False)]
    if name == "compliance_daily":
        periods += [sa.Column("due_month", sa.String(7), nullable=False),
                    sa.Column("due_quarter", sa.String(6), nullable=False)]
    key = [period, "department", *(["owner"] if v2 else []), "rule", "enhanced"]
    op.create_table(
        name,
        periods[0],
        sa.Column("department", sa.String(64), nullable=False),
        *([sa.Column("owner", sa.String(64), nullable=False)] if v2 else []),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("enhanced", sa.Boolean, nullable=False),
        *periods[1:],
        *_counts(v2=v2),
        sa.PrimaryKeyConstraint(*key, name=f"pk_{name}"),
    )


def _summary_tables(*, v2: bool) -> None:
    _compliance_table("compliance_daily", "due_date", 10, v2=v2)
    _compliance_table("compliance_monthly", "due_month", 7, v2=v2)
    _compliance_table("compliance_quarterly", "due_quarter", 6, v2=v2)
    op.create_table(
        "victim_compliance",
        sa.Column("crime_ref", sa.String(64), nullable=False),
        sa.Column("victim_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("enhanced", sa.Boolean, nullable=False),
        sa.Column("report_date", sa.String(10), nullable=False),
        sa.Column("report_month", sa.String(7), nullable=False),
        sa.Column("report_quarter", sa.String(6), nullable=False),
        sa.Column("obligations", sa.Integer, nullable=False),
        sa.Column("met_on_time", sa.Integer, nullable=False),
        sa.Column("met_late", sa.Integer, nullable=False),
        sa.Column("breached", sa.Integer, nullable=False),
        sa.Column("pending", sa.Integer, nullable=False),
        *([sa.Column("waived", sa.Integer, nullable=False)] if v2 else []),
        sa.Column("compliant", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("crime_ref", "victim_id", name="pk_victim_compliance"),
    )
    op.create_index("ix_victim_compliance_report_month_department", "victim_compliance",
                    ["report_month", "department"])


def _drop_summary_tables() -> None:
    for name in VICTIM_VIEWS:  # PostgreSQL refuses to drop a table a view reads
        op.execute(f"DROP VIEW {name}")
    op.drop_index("ix_victim_compliance_report_month_department", table_name="victim_compliance")
    for name in reversed(SUMMARY_TABLES):
        op.drop_table(name)


def _create_victim_views() -> None:
    for name, select in VICTIM_VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS\n{select}")


def upgrade() -> None:
    for name in reversed(PREVIOUS_VIEWS):
        op.execute(f"DROP VIEW {name}")
    op.add_column("case_events", sa.Column("interval_days", sa.Integer))
    op.add_column("crimes", sa.Column("witness_care_team", sa.String(64)))
    op.add_column("obligations", sa.Column("owner", sa.String(64), nullable=False, server_default=""))
    op.add_column("obligations", sa.Column("met_channel", sa.String(16)))
    op.add_column("obligations", sa.Column("channel_as_agreed", sa.Boolean))
    op.execute("UPDATE obligations SET owner = department")
    _drop_summary_tables()
    _summary_tables(v2=True)
    _create_victim_views()
    # The summaries are empty now: the next load rebuilds them all from the obligations.
    op.execute("DELETE FROM obligation_changes")
    op.execute("DELETE FROM obligation_changed_days")
    for name, select in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS\n{select}")


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW {name}")
    _drop_summary_tables()
    _summary_tables(v2=False)
    _create_victim_views()
    op.execute("DELETE FROM obligation_changes")
    op.execute("DELETE FROM obligation_changed_days")
    for column in ("channel_as_agreed", "met_channel", "owner"):
        op.drop_column("obligations", column)
    op.drop_column("case_events", "interval_days")
    op.drop_column("crimes", "witness_care_team")
    for name, select in PREVIOUS_VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS\n{select}")
