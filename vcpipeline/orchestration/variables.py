"""The Airflow Variables the sampling DAGs and the alert task read, with the defaults they fall back to.

Names here, values in the deployment (`AIRFLOW_VAR_<NAME>` or Airflow's store), as for
`connections.py`. Folders default to `settings.out_dir()` so a laptop needs nothing configured;
the reviewers' address has no default: a sample must never be e-mailed to a guessed address.
"""

from __future__ import annotations

from pathlib import Path

from vcpipeline import settings

REVIEWERS_EMAIL_VAR = "vcp_reviewers_email"
SAMPLE_FOLDER_VAR = "vcp_sample_folder"
RETURNS_FOLDER_VAR = "vcp_returns_folder"
DATA_DOCS_URL_VAR = "vcp_data_docs_url"


def default_sample_folder() -> Path:
    """Where the reviewers' worksheets and the published survey tables go: `out/sample/`."""
    return settings.out_dir() / "sample"


def default_returns_folder() -> Path:
    """Where completed worksheets are put back: `out/sample/returns/`."""
    return default_sample_folder() / "returns"


# Where the Airflow UI plugin (plugins/vcp_reports.py) serves `out/data_docs/`.
DATA_DOCS_PATH = "/vcp-reports/data_docs/index.html"


def default_data_docs_url(base_url: str | None = None) -> str:
    """The Data Docs index as the Airflow UI serves it (`settings.airflow_base_url()` + the
    reports plugin's path): a link a person can open, unlike a file path on the server."""
    return (base_url or settings.airflow_base_url()).rstrip("/") + DATA_DOCS_PATH


def variable(name: str, default: str | None = None) -> str:
    """A Variable's value; only inside a running task (it asks Airflow)."""
    from airflow.sdk import Variable

    if default is None:
        return Variable.get(name)
    return Variable.get(name, default=default)


def reviewers_email() -> str:
    """The reviewers' address(es), comma-separated; a task fails when the Variable is not set."""
    return variable(REVIEWERS_EMAIL_VAR)


def sample_folder() -> Path:
    return Path(variable(SAMPLE_FOLDER_VAR, str(default_sample_folder())))


def returns_folder() -> Path:
    return Path(variable(RETURNS_FOLDER_VAR, str(default_returns_folder())))


def data_docs_url() -> str:
    return variable(DATA_DOCS_URL_VAR, default_data_docs_url())


def variables_env(*, reviewers_email: str, sample_folder: Path, returns_folder: Path,
                  data_docs_url: str) -> dict[str, str]:
    """These Variables as `AIRFLOW_VAR_*` environment variables (the demo, tests, a deployment)."""
    return {
        f"AIRFLOW_VAR_{REVIEWERS_EMAIL_VAR.upper()}": reviewers_email,
        f"AIRFLOW_VAR_{SAMPLE_FOLDER_VAR.upper()}": str(sample_folder),
        f"AIRFLOW_VAR_{RETURNS_FOLDER_VAR.upper()}": str(returns_folder),
        f"AIRFLOW_VAR_{DATA_DOCS_URL_VAR.upper()}": data_docs_url,
    }
