"""Every Airflow task's entry point, one module per DAG; the DAG files import only this package.

- `nightly`: `victims_code_nightly` (sources → obligations → summaries → alerts, reports);
- `quarterly_sample`: `victims_code_quarterly_sample` (gate, draw, worksheets, reviewers' e-mail);
- `review_ingest`: `victims_code_review_ingest` (returns, survey results);
- `runtime`: what a running task reads from Airflow (its data interval's instants, converted
  once here to aware UTC `datetime`s; the warehouse connection; the Variables).

Each entry point is a plain typed function, so the DAGs and the tests call the same code (the
CLI calls the stage functions these call). A DAG task imports its module inside the task body,
so parsing a DAG never pays for pandas or Great Expectations. What a DAG needs while it is
parsed is re-exported here and stays cheap: the force's clock zone (`LONDON`, from
`vcpipeline.instants`), the warehouse tables as Assets, and the failure and
deadline e-mails (defined in `vcpipeline.orchestration`, whose paths Airflow has serialized).
"""

from __future__ import annotations

from vcpipeline.instants import LONDON
from vcpipeline.orchestration import assets
from vcpipeline.orchestration.notify import email_missed_deadline, task_failure_notifier

__all__ = ["LONDON", "assets", "email_missed_deadline", "task_failure_notifier"]
