"""The warehouse model: canonical crimes, victims and case events with their lineage, plus the
bookkeeping of loads (batches, quarantine, watermarks, processed files).

One SQLAlchemy Core `MetaData` serves PostgreSQL and SQLite alike. Alembic migrations under
`migrations/versions/` create these tables; later migrations add tables here and a revision there.

No column holds a name, date of birth, phone number, address or other contact detail: the
warehouse knows victims only by crime reference and pseudonymous `victim_id`.

Long because every table of the warehouse is declared here, side by side: one place to read the
whole model (each table is a flat declaration; splitting them by stage would scatter the keys
that join them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

# Stable constraint names, so migrations can drop or alter them on either backend.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

BATCH_STATUSES: tuple[str, ...] = ("running", "succeeded", "failed")

_SQLITE_INSTANT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_sqlite_instant(value: datetime) -> str:
    """The text an instant is stored as on SQLite: fixed-width UTC ISO 8601, so text order is time order."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"naive datetime {value!r}: the warehouse stores UTC instants only")
    return value.astimezone(UTC).strftime(_SQLITE_INSTANT_FORMAT)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An instant: `timestamptz` on PostgreSQL, fixed-width UTC ISO 8601 text on SQLite.

    Naive datetimes are refused on write (a wall-clock time without a zone is not an instant);
    values read back are always timezone-aware UTC on both backends.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(27))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or value != value:  # NaT is the one value unequal to itself
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a timezone-aware datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(f"naive datetime {value!r}: the warehouse stores UTC instants only")
        if dialect.name == "sqlite":
            return format_sqlite_instant(value)
        return value.astimezone(UTC)

    def process_literal_param(self, value: Any, dialect: Dialect) -> str:
        bound = self.process_bind_param(value, dialect)
        if bound is None:
            return "NULL"
        text = bound if isinstance(bound, str) else bound.isoformat()
        return f"'{text}'"

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:  # only if someone wrote around this type: read as UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @property
    def python_type(self) -> type[datetime]:
        return datetime


def _lineage() -> list[sa.Column[Any]]:
    """Where each canonical row came from, which load wrote it, and when it was extracted.

    `load_batch_id` has no foreign key: a per-row referential check doubles PostgreSQL's bulk
    upsert time, and the id only ever comes from `start_batch` in the same transaction.
    """
    return [
        sa.Column("source_system", sa.String(64), nullable=False),
        sa.Column("source_row_id", sa.String(128), nullable=False),
        sa.Column("load_batch_id", sa.String(128), nullable=False),
        sa.Column("extracted_at", UtcDateTime(), nullable=False),
    ]


load_batches = sa.Table(
    "load_batches", metadata,
    sa.Column("batch_id", sa.String(128), primary_key=True),
    sa.Column("source_system", sa.String(64), nullable=False),
    sa.Column("interval_start", UtcDateTime(), nullable=False),
    sa.Column("interval_end", UtcDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime()),
    sa.Column("rows_extracted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_loaded", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_quarantined", sa.Integer, nullable=False, server_default="0"),
    sa.Column("message", sa.Text),
    sa.UniqueConstraint("source_system", "interval_start", "interval_end"),
    sa.CheckConstraint("status IN ('running', 'succeeded', 'failed')", name="status"),
)

crimes = sa.Table(
    "crimes", metadata,
    sa.Column("crime_ref", sa.String(64), primary_key=True),
    sa.Column("reported_at", UtcDateTime(), nullable=False),
    sa.Column("department", sa.String(64), nullable=False),
    sa.Column("offence_category", sa.String(64)),
    sa.Column("domestic_abuse", sa.Boolean, nullable=False),
    sa.Column("hate_crime", sa.Boolean, nullable=False),
    sa.Column("team", sa.String(64)),
    sa.Column("officer_collar", sa.String(32)),
    # v2: the witness care team of the crime's court area, which owns its obligations after charge
    # (alert routing; NULL: the witness care department's default lead).
    sa.Column("witness_care_team", sa.String(64)),
    *_lineage(),
    sa.Index(None, "reported_at"),
    sa.Index(None, "load_batch_id"),
)

victims = sa.Table(
    "victims", metadata,
    sa.Column("crime_ref", sa.String(64), primary_key=True),
    sa.Column("victim_id", sa.String(64), primary_key=True),
    sa.Column("age_at_report", sa.Integer),
    sa.Column("vulnerable", sa.Boolean, nullable=False),
    sa.Column("intimidated", sa.Boolean, nullable=False),
    sa.Column("persistently_targeted", sa.Boolean, nullable=False),
    # Optional (migration 0008): who the victims are, for aggregated breakdowns only (never in an
    # e-mail or worksheet). NULL: the source does not record it; NOT_STATED: it records none given.
    sa.Column("sex", sa.String(16)),
    sa.Column("ethnicity", sa.String(16)),  # the ONS 5 broad groups, or NOT_STATED
    sa.Column("disability", sa.String(16)),
    *_lineage(),
    sa.Index(None, "load_batch_id"),
)

case_events = sa.Table(
    "case_events", metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("crime_ref", sa.String(64), nullable=False),
    sa.Column("victim_id", sa.String(64)),  # NULL: the event concerns every victim of the crime
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("in_need", sa.Boolean),
    sa.Column("outcome_code", sa.Integer),
    sa.Column("court_result", sa.String(32)),
    sa.Column("channel", sa.String(16)),
    sa.Column("interval_days", sa.Integer),  # CONTACT_AGREED: the agreed longest gap (v2)
    *_lineage(),
    sa.Index(None, "crime_ref"),
    sa.Index(None, "occurred_at"),
    sa.Index(None, "load_batch_id"),
)

quarantine = sa.Table(
    "quarantine", metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True, autoincrement=True,
    ),
    sa.Column("batch_id", sa.String(128), sa.ForeignKey("load_batches.batch_id"), nullable=False),
    sa.Column("source_system", sa.String(64), nullable=False),
    sa.Column("entity", sa.String(32), nullable=False),  # crimes | victims | events | ...
    sa.Column("source_row_id", sa.String(128), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),  # `;`-joined failed expectation names
    sa.Column("raw_row", sa.Text),  # JSON of the source row, without PII
    sa.Column("quarantined_at", UtcDateTime(), nullable=False),
    sa.Column("replayed_at", UtcDateTime()),
    sa.UniqueConstraint("batch_id", "source_system", "entity", "source_row_id"),
)

source_watermarks = sa.Table(
    "source_watermarks", metadata,
    sa.Column("source_system", sa.String(64), primary_key=True),
    sa.Column("watermark", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

processed_files = sa.Table(
    "processed_files", metadata,
    sa.Column("source_system", sa.String(64), primary_key=True),
    sa.Column("file_name", sa.String(255), primary_key=True),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("batch_id", sa.String(128), sa.ForeignKey("load_batches.batch_id"), nullable=False),
    sa.Column("processed_at", UtcDateTime(), nullable=False),
)

# The canonical tables and their natural keys (what an upsert matches on).
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "crimes": ("crime_ref",),
    "victims": ("crime_ref", "victim_id"),
    "case_events": ("event_id",),
}

# --- alerts ---
# Team reference data and the alert log (`vcpipeline/alerts`). Team leads are officers: their
# names and work addresses are the only people's details here. The log holds keys, not victims.

team_leads = sa.Table(
    "team_leads", metadata,
    sa.Column("department", sa.String(64), primary_key=True),
    sa.Column("team", sa.String(64), primary_key=True),  # '': the department's default lead
    sa.Column("lead_name", sa.String(128), nullable=False),
    sa.Column("lead_email", sa.String(254), nullable=False),
    sa.Column("loaded_at", UtcDateTime(), nullable=False),
)

# One row per e-mail the mail server accepted: a message key is never sent twice.
alert_messages = sa.Table(
    "alert_messages", metadata,
    sa.Column("message_key", sa.String(160), primary_key=True),  # team (or digest) + local date
    sa.Column("kind", sa.String(16), nullable=False),  # team | digest
    sa.Column("department", sa.String(64), nullable=False),
    sa.Column("team", sa.String(64), nullable=False),  # '': a department's crimes without a known team
    sa.Column("recipient", sa.String(254), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("as_of", UtcDateTime(), nullable=False),
    sa.Column("items", sa.Integer, nullable=False),
    sa.Column("sent_at", UtcDateTime(), nullable=False),
)

# What has been alerted: a breach once ever, an at-risk obligation once per due date.
alert_log = sa.Table(
    "alert_log", metadata,
    sa.Column("kind", sa.String(16), primary_key=True),  # breach | at_risk
    sa.Column("crime_ref", sa.String(64), primary_key=True),
    sa.Column("victim_id", sa.String(64), primary_key=True),
    sa.Column("rule", sa.String(64), primary_key=True),
    sa.Column("trigger_event_id", sa.String(64), primary_key=True),  # '': triggered by the report
    sa.Column("risk_due_date", sa.String(10), primary_key=True),  # at_risk: local due date; breach: ''
    sa.Column("due_at", UtcDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column(
        "message_key", sa.String(160),
        sa.ForeignKey("alert_messages.message_key"), nullable=False,
    ),
    sa.Index(None, "due_at"),
    sa.Index(None, "message_key"),
)

# --- samples ---
# The quarterly dip sample (`vcpipeline/sampling`): each draw with its seed, population hash,
# allocation, selected crimes and ordered reserves; the automated findings the reviewers were
# shown; their answers; and the published survey results. Crime refs and codes only: reviewers'
# free-text comments stay in the returned worksheets and are never loaded (they may name people).

samples = sa.Table(
    "samples", metadata,
    sa.Column("sample_id", sa.String(16), primary_key=True),  # the quarter's name, e.g. 2026Q1
    sa.Column("quarter", sa.String(8), nullable=False, unique=True),
    sa.Column("seed", sa.String(128), nullable=False),
    sa.Column("population_hash", sa.String(64), nullable=False),
    sa.Column("population_size", sa.Integer, nullable=False),
    sa.Column("sample_size", sa.Integer, nullable=False),
    sa.Column("size_requested", sa.Integer, nullable=False),
    sa.Column("minimum_per_stratum", sa.Integer, nullable=False),
    sa.Column("reserve_size", sa.Integer, nullable=False),
    sa.Column("excluded", sa.Integer, nullable=False),  # population crimes taken by earlier samples
    sa.Column("drawn_at", UtcDateTime(), nullable=False),
)

sample_strata = sa.Table(
    "sample_strata", metadata,
    sa.Column("sample_id", sa.String(16), sa.ForeignKey("samples.sample_id"), primary_key=True),
    sa.Column("stratum", sa.String(64), primary_key=True),
    sa.Column("stratum_population", sa.Integer, nullable=False),
    sa.Column("stratum_minimum", sa.Integer, nullable=False),
    sa.Column("exact_allocation", sa.Float, nullable=False),
    sa.Column("stratum_sample_size", sa.Integer, nullable=False),
    sa.Column("selection_probability", sa.Float),
    sa.Column("design_weight", sa.Float),
)

sample_crimes = sa.Table(
    "sample_crimes", metadata,
    sa.Column("sample_id", sa.String(16), sa.ForeignKey("samples.sample_id"), primary_key=True),
    sa.Column("crime_ref", sa.String(64), primary_key=True),
    sa.Column("stratum", sa.String(64), nullable=False),
    sa.Column("permanent_random_number", sa.Float, nullable=False),
    sa.Index(None, "crime_ref"),
)

sample_reserve = sa.Table(
    "sample_reserve", metadata,
    sa.Column("sample_id", sa.String(16), sa.ForeignKey("samples.sample_id"), primary_key=True),
    sa.Column("stratum", sa.String(64), primary_key=True),
    sa.Column("rank", sa.Integer, primary_key=True),  # 1 = first replacement
    sa.Column("crime_ref", sa.String(64), nullable=False),
    sa.Column("permanent_random_number", sa.Float, nullable=False),
)

# What the worksheets showed the reviewers, per crime and question (the agreement baseline).
sample_findings = sa.Table(
    "sample_findings", metadata,
    sa.Column("sample_id", sa.String(16), primary_key=True),
    sa.Column("crime_ref", sa.String(64), primary_key=True),
    sa.Column("question", sa.String(4), primary_key=True),  # Q1 .. Q9
    sa.Column("finding", sa.String(32), nullable=False),
    sa.Column("automated_answer", sa.String(8), nullable=False),  # Yes | No | N/A | No data
    sa.ForeignKeyConstraint(["sample_id", "crime_ref"],
                            ["sample_crimes.sample_id", "sample_crimes.crime_ref"]),
)

# One answer per crime and question: a re-submitted worksheet replaces it.
sample_reviews = sa.Table(
    "sample_reviews", metadata,
    sa.Column("sample_id", sa.String(16), primary_key=True),
    sa.Column("crime_ref", sa.String(64), primary_key=True),
    sa.Column("question", sa.String(4), primary_key=True),
    sa.Column("answer", sa.String(8), nullable=False),
    sa.Column("source_file", sa.String(255), nullable=False),
    sa.Column("ingested_at", UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["sample_id", "crime_ref"],
                            ["sample_crimes.sample_id", "sample_crimes.crime_ref"]),
)

# Who reviewed each sampled crime (the audit trail: staff data, not victims'); one row per crime
# answered, replaced by a re-submitted worksheet. The survey results count `at_required_rank`.
sample_reviewers = sa.Table(
    "sample_reviewers", metadata,
    sa.Column("sample_id", sa.String(16), primary_key=True),
    sa.Column("crime_ref", sa.String(64), primary_key=True),
    sa.Column("reviewer_name", sa.String(100), nullable=False),
    sa.Column("reviewer_rank", sa.String(64), nullable=False),
    sa.Column("at_required_rank", sa.Boolean, nullable=False),  # Inspector / staff equivalent or above
    sa.Column("reviewed_on", sa.Date, nullable=False),
    sa.Column("worksheet_format", sa.String(64), nullable=False),  # says how findings were shown
    sa.Column("source_file", sa.String(255), nullable=False),
    sa.Column("ingested_at", UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["sample_id", "crime_ref"],
                            ["sample_crimes.sample_id", "sample_crimes.crime_ref"]),
)

survey_results = sa.Table(
    "survey_results", metadata,
    sa.Column("quarter", sa.String(8), primary_key=True),
    sa.Column("question", sa.String(4), primary_key=True),
    sa.Column("domain", sa.String(64), primary_key=True),  # FORCE or a department
    sa.Column("estimate", sa.Float),  # share of Yes among Yes + No, design-weighted
    sa.Column("variance", sa.Float),
    sa.Column("standard_error", sa.Float),
    sa.Column("ci_lower", sa.Float),
    sa.Column("ci_upper", sa.Float),
    sa.Column("reviewed", sa.Integer, nullable=False),
    sa.Column("applicable", sa.Integer, nullable=False),
    sa.Column("yes", sa.Integer, nullable=False),
    sa.Column("previous_estimate", sa.Float),
    sa.Column("change", sa.Float),
    sa.Column("p_value", sa.Float),
    sa.Column("significant", sa.Boolean, nullable=False),
    sa.Column("agreement_compared", sa.Integer, nullable=False),
    sa.Column("percent_agreement", sa.Float),
    sa.Column("kappa", sa.Float),
    sa.Column("published_at", UtcDateTime(), nullable=False),
)

# --- obligations ---
# The rule engine's results (`vcpipeline/rules/store.py`), brought up to date incrementally each
# night, its bookkeeping, and the compliance summaries (`vcpipeline/rules/summaries.py`).

# One row per obligation as of the latest evaluation (RULES.md v2): the contract's columns plus the
# crime's department. `owner` is the department that must meet it (the crime's, or the witness
# care unit after charge); `met_channel` NULL when not met or met without a channel;
# `channel_as_agreed` NULL when there is nothing to compare. Any status, WAIVED included.
# `trigger_event_id` is '' for the rules triggered by the crime report, so
# the natural key can be the primary key (its `crime_ref` prefix serves "replace a crime's rows").
obligations = sa.Table(
    "obligations", metadata,
    sa.Column("crime_ref", sa.String(64), primary_key=True),
    sa.Column("victim_id", sa.String(64), primary_key=True),
    sa.Column("rule", sa.String(64), primary_key=True),
    sa.Column("trigger_event_id", sa.String(64), primary_key=True),
    sa.Column("trigger_at", UtcDateTime(), nullable=False),
    sa.Column("due_at", UtcDateTime(), nullable=False),
    sa.Column("met_at", UtcDateTime()),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("enhanced", sa.Boolean, nullable=False),
    sa.Column("rule_set", sa.String(32), nullable=False),
    sa.Column("department", sa.String(64), nullable=False),
    # '' only on rows written before version 2 (the next evaluation is full and fills it).
    sa.Column("owner", sa.String(64), nullable=False, server_default=""),
    sa.Column("met_channel", sa.String(16)),
    sa.Column("channel_as_agreed", sa.Boolean),
    sa.Index(None, "due_at"),
    # "PENDING and now due", the rows time alone changes: a few of every thousand obligations.
    sa.Index("ix_obligations_pending_due_at", "due_at", postgresql_where=sa.text("status = 'PENDING'"),
             sqlite_where=sa.text("status = 'PENDING'")),
    # SQLite: stored in key order, so a crime's rows sit together (read, diffed, rewritten nightly).
    sqlite_with_rowid=False,
)

# One row per evaluated instant: the evaluation that established it (a rerun that finds nothing
# new leaves it alone). `*_seconds` are timings, not data.
obligation_runs = sa.Table(
    "obligation_runs", metadata,
    sa.Column("as_of", UtcDateTime(), primary_key=True),
    sa.Column("mode", sa.String(16), nullable=False),  # full | incremental
    sa.Column("rulesets_sha256", sa.String(64), nullable=False),
    sa.Column("batches", sa.Integer, nullable=False),  # load batches new since the last evaluation
    sa.Column("crimes_reevaluated", sa.Integer, nullable=False),
    sa.Column("obligations_replaced", sa.Integer, nullable=False),  # rows deleted
    sa.Column("obligations_written", sa.Integer, nullable=False),
    sa.Column("statuses_advanced", sa.Integer, nullable=False),  # PENDING -> BREACHED by time alone
    sa.Column("obligations_total", sa.Integer, nullable=False),
    sa.Column("read_seconds", sa.Float),
    sa.Column("evaluate_seconds", sa.Float),
    sa.Column("write_seconds", sa.Float),
    sa.Column("total_seconds", sa.Float),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("mode IN ('full', 'incremental')", name="mode"),
)

# The load batches whose rows the obligations reflect, as they were when evaluated: a batch
# not here, or finished again since (a rerun), holds rows not yet evaluated.
obligation_batches = sa.Table(
    "obligation_batches", metadata,
    sa.Column("batch_id", sa.String(128), primary_key=True),
    sa.Column("finished_at", UtcDateTime(), nullable=False),
)

# The crime each event belonged to when last evaluated: an event corrected onto another crime
# changes the old crime's obligations too, and the warehouse keeps only its new crime_ref.
evaluated_events = sa.Table(
    "evaluated_events", metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("crime_ref", sa.String(64), nullable=False),
)

# The number of rows in `obligations`, as parts that add up to it: every write of obligations adds
# what it wrote less what it deleted to its partition's part, in its own transaction (partitions
# running side by side never wait for one row), so a night knows the total without counting.
obligation_counts = sa.Table(
    "obligation_counts", metadata,
    sa.Column("partition_number", sa.Integer, primary_key=True),
    sa.Column("obligations", sa.BigInteger, nullable=False),
)

# Crimes whose obligations changed since the summaries were last loaded (emptied by them).
obligation_changes = sa.Table(
    "obligation_changes", metadata,
    sa.Column("crime_ref", sa.String(64), primary_key=True),
)

# Due instants (local midnights) with obligations written, deleted or changed since the
# summaries were last loaded: the days whose counts they redo (emptied by them).
obligation_changed_days = sa.Table(
    "obligation_changed_days", metadata,
    sa.Column("due_at", UtcDateTime(), primary_key=True),
)


def _compliance_counts() -> list[sa.Column[Any]]:
    """Obligations by status, and the compliance rate met_on_time / (met_on_time + met_late +
    breached): decided obligations only (PENDING ones are not yet a success or a failure,
    WAIVED ones are not judged); NULL when nothing is decided. And the updates by the victim's
    agreed method: of the met obligations (MET, MET_LATE) with an agreed channel to compare
    (`channel_as_agreed` not NULL), how many used it."""
    return [
        sa.Column("due", sa.Integer, nullable=False),  # all five statuses
        sa.Column("met_on_time", sa.Integer, nullable=False),
        sa.Column("met_late", sa.Integer, nullable=False),
        sa.Column("breached", sa.Integer, nullable=False),
        sa.Column("pending", sa.Integer, nullable=False),
        sa.Column("waived", sa.Integer, nullable=False),
        sa.Column("compliance_rate", sa.Float),
        sa.Column("agreed_method_compared", sa.Integer, nullable=False),
        sa.Column("agreed_method_kept", sa.Integer, nullable=False),
    ]


# Per local due date (the last day to meet the obligation) x department (the crime's) x owner
# (who must meet it) x rule x service level.
compliance_daily = sa.Table(
    "compliance_daily", metadata,
    sa.Column("due_date", sa.String(10), primary_key=True),  # YYYY-MM-DD, Europe/London
    sa.Column("department", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(64), primary_key=True),
    sa.Column("rule", sa.String(64), primary_key=True),
    sa.Column("enhanced", sa.Boolean, primary_key=True),
    sa.Column("due_month", sa.String(7), nullable=False),  # YYYY-MM
    sa.Column("due_quarter", sa.String(6), nullable=False),  # YYYYQn
    *_compliance_counts(),
)

compliance_monthly = sa.Table(
    "compliance_monthly", metadata,
    sa.Column("due_month", sa.String(7), primary_key=True),
    sa.Column("department", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(64), primary_key=True),
    sa.Column("rule", sa.String(64), primary_key=True),
    sa.Column("enhanced", sa.Boolean, primary_key=True),
    *_compliance_counts(),
)

compliance_quarterly = sa.Table(
    "compliance_quarterly", metadata,
    sa.Column("due_quarter", sa.String(6), primary_key=True),
    sa.Column("department", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(64), primary_key=True),
    sa.Column("rule", sa.String(64), primary_key=True),
    sa.Column("enhanced", sa.Boolean, primary_key=True),
    *_compliance_counts(),
)

# Per victim: the board paper's Q1, compliant when none of its obligations is BREACHED or
# MET_LATE. Periods are those of the crime report (Europe/London).
victim_compliance = sa.Table(
    "victim_compliance", metadata,
    sa.Column("crime_ref", sa.String(64), primary_key=True),
    sa.Column("victim_id", sa.String(64), primary_key=True),
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
    sa.Column("waived", sa.Integer, nullable=False),  # in `obligations`, never against Q1
    sa.Column("compliant", sa.Boolean, nullable=False),
    sa.Index(None, "report_month", "department"),
)

summary_runs = sa.Table(
    "summary_runs", metadata,
    sa.Column("as_of", UtcDateTime(), primary_key=True),
    sa.Column("mode", sa.String(16), nullable=False),  # full | incremental (victims)
    sa.Column("crimes_changed", sa.Integer, nullable=False),
    sa.Column("daily_rows", sa.Integer, nullable=False),
    sa.Column("victim_rows_written", sa.Integer, nullable=False),
    sa.Column("total_seconds", sa.Float),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=False),
)
