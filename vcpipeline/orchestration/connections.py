"""Names of the Airflow connections and Variables the DAGs read, and how a connection becomes a URL.

Nothing here is a value: operators set them as `AIRFLOW_CONN_*` / `AIRFLOW_VAR_*` environment
variables or in Airflow's store (docs/operations.md).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from vcpipeline.sources.config import SourceConfig

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "vcp_warehouse"
SMTP_CONN_ID = "vcp_smtp"
DATA_ENGINEERING_EMAIL_VAR = "vcp_data_engineering_email"


def sqlalchemy_url(conn: Connection) -> str:
    """The SQLAlchemy URL an Airflow connection describes.

    Airflow parses `sqlite:///var/warehouse.db` into an empty host and the path as schema, and
    `postgresql://…` into conn_type `postgres`; this undoes both so the warehouse sees a plain URL.
    """
    from sqlalchemy.engine import URL

    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sqlite":
        return f"sqlite:///{conn.schema or conn.host or ''}"
    driver = "postgresql+psycopg" if conn_type in {"postgres", "postgresql"} else conn_type
    return URL.create(
        driver,
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=conn.port or None,
        database=conn.schema or None,
    ).render_as_string(hide_password=False)


def warehouse_url(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """The warehouse URL from the Airflow connection, else the embedded default (`VCP_WAREHOUSE_URL`).

    Only call this inside a running task: it asks Airflow for the connection.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from vcpipeline import settings

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return settings.warehouse_url()
    return sqlalchemy_url(conn)


def source_config(config: SourceConfig) -> SourceConfig:
    """The source's config with the URL of its `airflow_conn_id` connection, when it has one and
    Airflow knows it; otherwise the config as declared in `sources.toml`.

    Only call this inside a running task: it asks Airflow for the connection. The task resolves
    it and hands ingest the result, so ingest never looks at Airflow.
    """
    if config.kind != "sql" or not config.airflow_conn_id:
        return config
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(config.airflow_conn_id)
    except AirflowNotFoundException:
        return config
    log.info("source %s: using Airflow connection %s", config.name, config.airflow_conn_id)
    return dataclasses.replace(config, connection=sqlalchemy_url(conn))
