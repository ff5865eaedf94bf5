"""The warehouse tables the nightly DAG writes, as Airflow Assets other DAGs can schedule on.

Names only (no URI scheme): the warehouse may be SQLite or PostgreSQL, and a consumer cares
which table changed, not where the database lives.
"""

from __future__ import annotations

from airflow.sdk import Asset

GROUP = "vcp_warehouse"

CRIMES = Asset(name="vcp_warehouse.crimes", group=GROUP)
VICTIMS = Asset(name="vcp_warehouse.victims", group=GROUP)
CASE_EVENTS = Asset(name="vcp_warehouse.case_events", group=GROUP)
QUARANTINE = Asset(name="vcp_warehouse.quarantine", group=GROUP)
OBLIGATIONS = Asset(name="vcp_warehouse.obligations", group=GROUP)
SUMMARIES = Asset(name="vcp_warehouse.compliance_summaries", group=GROUP)

# What one source's extract → validate → load batch writes.
LOADED_BY_BATCH = (CRIMES, VICTIMS, CASE_EVENTS, QUARANTINE)

# The morning alerts' log (`alert_messages` + `alert_log`): what was e-mailed, so nothing is sent twice.
ALERT_LOG = Asset(name="vcp_warehouse.alert_log", group=GROUP)

# The quarterly dip sample (victims_code_quarterly_sample) and its review (victims_code_review_ingest).
SAMPLES = Asset(name="vcp_warehouse.samples", group=GROUP)
SAMPLE_FINDINGS = Asset(name="vcp_warehouse.sample_findings", group=GROUP)
SAMPLE_REVIEWS = Asset(name="vcp_warehouse.sample_reviews", group=GROUP)
SURVEY_RESULTS = Asset(name="vcp_warehouse.survey_results", group=GROUP)
