"""What a running task reads from Airflow: its data interval's instants, connections, Variables.

Airflow hands a task its data interval as pendulum instants (None outside a scheduled run).
`utc_instant` turns each, once, into what the pipeline below takes: an aware `datetime` in UTC.
The rest only ask Airflow (the warehouse URL, a source system's connection, the Variables), so
call them inside a running task (the names and defaults live in
`vcpipeline.orchestration.connections` and `.variables`, which tests and the demo use too).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from vcpipeline import instants
from vcpipeline.orchestration.connections import (
    DATA_ENGINEERING_EMAIL_VAR,
    SMTP_CONN_ID,
    source_config,
    warehouse_url,
)
from vcpipeline.orchestration.variables import (
    data_docs_url,
    returns_folder,
    reviewers_email,
    sample_folder,
    variable,
)

if TYPE_CHECKING:
    from vcpipeline.alerts.deliver import Send

__all__ = [
    "SMTP_CONN_ID", "data_docs_url", "data_engineering_email", "returns_folder", "reviewers_email",
    "sample_folder", "smtp_sender", "source_config", "utc_instant", "warehouse_url",
]


def utc_instant(value: datetime | None) -> datetime:
    """The task's instant (Airflow's pendulum one) as a plain aware `datetime` in UTC, converted
    once here by `instants.utc_instant`; a naive one is refused, and so is none at all."""
    if value is None:
        raise ValueError("no instant: the task has no data interval (run it from a DAG run)")
    return instants.utc_instant(value, "the task's instant")


def data_engineering_email() -> str | None:
    """The data-engineering address (the nightly digest's), or None when the Variable is unset."""
    return variable(DATA_ENGINEERING_EMAIL_VAR, "") or None


def smtp_sender() -> Send:
    """Send e-mail through the smtp provider's hook on connection `vcp_smtp`."""
    from vcpipeline.alerts.deliver import smtp_hook_sender

    return smtp_hook_sender(SMTP_CONN_ID)
