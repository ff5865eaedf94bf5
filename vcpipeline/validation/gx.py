"""The one place that imports Great Expectations: a quiet, offline, in-memory GX context.

Importing GX takes seconds and, in a process where Airflow configured structlog, logs a lot at
INFO; so nothing imports it at module top, and the first use turns its loggers down.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.data_context import EphemeralDataContext

_NOISY_LOGGERS = ("great_expectations", "great_expectations.core", "great_expectations.data_context",
                  "great_expectations.datasource", "great_expectations.expectations",
                  "great_expectations.validator", "posthog")
DATASOURCE = "vcp"


def quiet_gx() -> None:
    """Keep GX's INFO chatter (and any usage-statistics client) out of task logs."""
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def ephemeral_context(data_docs_sites: dict[str, Any] | None = None) -> EphemeralDataContext:
    """A fresh in-memory GX context: no analytics, no progress bars, no files unless asked."""
    quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        data_docs_sites=data_docs_sites or {},
    )
    return gx.get_context(mode="ephemeral", project_config=config)


@cache
def validation_context() -> EphemeralDataContext:
    """The process's context for validating frames (created once: it holds no data between runs)."""
    context = ephemeral_context()
    context.data_sources.add_pandas(DATASOURCE)
    # GX fingerprints every frame below 1 GB by hashing all its values (seconds per million
    # rows of text); the fingerprint is only a batch marker we never use, so skip it.
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0
    return context


def dataframe_batch(frame: pd.DataFrame, asset_name: str) -> Any:
    """A GX batch over the whole frame, under an asset named after what the frame holds."""
    datasource = validation_context().data_sources.get(DATASOURCE)
    try:
        asset = datasource.get_asset(asset_name)
    except LookupError:
        asset = datasource.add_dataframe_asset(asset_name)
    try:
        definition = asset.get_batch_definition("whole")
    except KeyError:
        definition = asset.add_batch_definition_whole_dataframe("whole")
    return definition.get_batch(batch_parameters={"dataframe": frame})
