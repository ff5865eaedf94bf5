"""Airflow-facing glue: everything here imports without a scheduler, so tests and the demo use it.

`assets` (warehouse tables as Airflow Assets), `connections` (connection and Variable names, and
turning a connection into a warehouse URL), `notify` (failure and deadline e-mails),
`timetables` (quarter arithmetic for the sampling timetable), `mailsink` (an SMTP server that
files every message), `airflow_env` (a throw-away Airflow home), `demo` and `standalone`.
The task bodies themselves are in `vcpipeline.tasks`, which the DAG files import.
"""
