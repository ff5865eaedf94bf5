"""`dag.test()` for DAGs with a Deadline Alert, working around an Airflow 3.3.2 bug.

`DAG.test()` hands the run a DAG deserialized straight from its own serialization, whose
`deadline` is still the list of alert definitions (dicts); a real scheduler's copy, read from
the metadata DB, holds the alerts' UUIDs. When the run succeeds, `DagRun.update_state` looks each
entry up with `DeadlineAlert.get_by_id(...)` and fails ("'dict' object has no attribute 'hex'").
Here the DAG is written to the metadata DB first and the test run's copy is given the stored
UUIDs, so the run, its Deadline rows and their pruning on success behave as in production.
Remove this module once `dag.test()` does it itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from airflow.sdk import DAG


def _stored_deadline_ids(dag_id: str) -> list[str]:
    """Write the DAGs folder to the metadata DB (as `dag.test()` does) and read back the alert UUIDs."""
    from airflow import settings
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.models.serialized_dag import SerializedDagModel

    session = settings.Session()
    try:
        manager = DagBundlesManager()
        manager.sync_bundles_to_db(session=session)
        session.commit()
        for bundle in manager.get_all_dag_bundles():
            if not bundle.is_initialized:
                bundle.initialize()
            bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
            if dag_id in bag.dags:
                sync_bag_to_db(bag, bundle.name, bundle.version)
                break
        stored = SerializedDagModel.get(dag_id, session=session)
        return list((stored.data or {}).get("dag", {}).get("deadline") or []) if stored else []
    finally:
        session.close()


def run_dag_test(dag: DAG, logical_date: datetime, **kwargs: Any) -> DagRun:
    """`dag.test(logical_date=...)`, also for DAGs with Deadline Alerts; returns the finished run."""
    if not dag.deadline:
        return dag.test(logical_date=logical_date, **kwargs)

    from airflow.serialization.serialized_objects import DagSerialization

    deadline_ids = _stored_deadline_ids(dag.dag_id)
    deserialize = DagSerialization.deserialize_dag

    def deserialize_with_stored_deadlines(*args: Any, **kw: Any) -> Any:
        result = deserialize(*args, **kw)
        if result.dag_id == dag.dag_id and result.deadline and isinstance(result.deadline[0], dict):
            result.deadline = deadline_ids
        return result

    with patch.object(DagSerialization, "deserialize_dag", deserialize_with_stored_deadlines):
        return dag.test(logical_date=logical_date, **kwargs)
