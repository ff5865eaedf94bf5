"""E-mails to the data-engineering address: a task failed, or the nightly run missed its deadline.

Both go through the smtp provider's `SmtpNotifier` on the `vcp_smtp` connection, to the address
in the `vcp_data_engineering_email` Variable. Messages name the DAG, task, run and log link only:
never the exception text, which could quote a source row (a victim's name or address).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vcpipeline.orchestration.connections import DATA_ENGINEERING_EMAIL_VAR, SMTP_CONN_ID

if TYPE_CHECKING:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

FAILURE_SUBJECT = "[vcp] task failed: {{ ti.dag_id }}.{{ ti.task_id }} ({{ run_id }})"
FAILURE_BODY = (
    "<p>Task <b>{{ ti.task_id }}</b>{% if ti.map_index >= 0 %} (map index {{ ti.map_index }}){% endif %}"
    " of DAG <b>{{ ti.dag_id }}</b> failed on try {{ ti.try_number }}.</p>"
    "<p>Run: {{ run_id }}<br>Data interval: {{ data_interval_start }} to {{ data_interval_end }}</p>"
    '<p>Log: <a href="{{ ti.log_url }}">{{ ti.log_url }}</a></p>'
)


def task_failure_notifier() -> SmtpNotifier:
    """`on_failure_callback` for every task: one e-mail per failed task instance (after its retries).

    The recipient is a template, so the Variable is read when a task fails, not when the DAG is parsed.
    """
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return SmtpNotifier(
        to="{{ var.value.%s }}" % DATA_ENGINEERING_EMAIL_VAR,  # noqa: UP031 - Jinja braces
        smtp_conn_id=SMTP_CONN_ID,
        subject=FAILURE_SUBJECT,
        html_content=FAILURE_BODY,
    )


def deadline_message(context: dict[str, Any]) -> tuple[str, str]:
    """Subject and HTML body for a missed deadline, from the simple context Airflow passes callbacks."""
    run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    dag_id = run.get("dag_id", "?")
    run_id = run.get("dag_run_id") or run.get("run_id", "?")
    subject = f"[vcp] deadline missed: {dag_id} ({run_id}) not finished by {deadline.get('deadline_time', '?')}"
    body = (
        f"<p>DAG <b>{dag_id}</b> run <b>{run_id}</b> had not finished by its deadline "
        f"{deadline.get('deadline_time', '?')} (state: {run.get('state', '?')}).</p>"
        f"<p>Data interval: {run.get('data_interval_start')} to {run.get('data_interval_end')}</p>"
        "<p>Team leads' morning alerts depend on this run: check the Airflow UI.</p>"
    )
    return subject, body


async def email_missed_deadline(
    context: dict[str, Any] | None = None,
    *,
    email_variable: str = DATA_ENGINEERING_EMAIL_VAR,
    smtp_conn_id: str = SMTP_CONN_ID,
) -> None:
    """Deadline Alert callback (run by the triggerer): e-mail the data-engineering address.

    Airflow does not render Jinja in deadline-callback kwargs and its simple context has no `var`,
    so the address is read from the Variable here, when the deadline is missed.
    """
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier
    from airflow.sdk import Variable

    context = context or {}
    subject, body = deadline_message(context)
    notifier = SmtpNotifier(
        to=Variable.get(email_variable), smtp_conn_id=smtp_conn_id, subject=subject, html_content=body
    )
    await notifier.async_notify(context)  # type: ignore[arg-type]
