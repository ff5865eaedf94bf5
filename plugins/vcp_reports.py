"""The Victims Code compliance reports inside the Airflow UI: the latest one and all past ones.

A read-only FastAPI app mounted by the API server at `/vcp-reports` (`fastapi_apps`), shown in
the UI's navigation as an embedded page (`external_views`). It serves what `vcp report` and the
monthly / quarter-end task wrote to `out/report/` (`$VCP_OUT_DIR/report`), and the Data Docs the
reports link to (`out/data_docs/`). Only GET: nothing here changes a file.

Authentication: Airflow does not authenticate plugin apps (a mounted app inherits none of the
core API's dependencies), so every route here depends on `require_airflow_user`, which runs
Airflow's own `get_user` (the UI's `_token` cookie or an `Authorization: Bearer` JWT; 401 when
there is none, 403 when it is invalid) and then asks the auth manager whether that user may see
the website at all (403 if not). Airflow's API modules are imported inside the dependency, so
the scheduler and workers, which load every plugin, never import the API server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

URL_PREFIX = "/vcp-reports"
SERVED_SUFFIXES = frozenset({".html", ".csv", ".parquet"})
# The reports carry no script: forbid any, and any resource from elsewhere, in the served page.
REPORT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

# What a Data Docs site holds (docs.build_data_docs): static pages, GX's stylesheets, images and
# fonts. It ships no JavaScript and what scripts its pages carry need jQuery, which the offline
# site drops; so no script at all may run, nor anything load from elsewhere. Everything else a
# folder might hold (results as JSON, a stray file) is not served.
DATA_DOCS_SUFFIXES = frozenset({".html", ".css", ".png", ".gif", ".svg", ".ico", ".otf"})
DATA_DOCS_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_bearer = HTTPBearer(auto_error=False)


async def require_airflow_user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Any:
    """The authenticated Airflow user allowed to view the website; 401/403 otherwise."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import get_user

    user = await get_user(request, _oauth_token=None, bearer_credentials=bearer)
    if not get_auth_manager().is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(status_code=403, detail="Forbidden")
    return user


def report_folder() -> Path:
    from vcpipeline import settings

    return (settings.out_dir() / "report").resolve()


def data_docs_folder() -> Path:
    from vcpipeline import settings

    return (settings.out_dir() / "data_docs").resolve()


def _inside(folder: Path, relative: str, suffixes: frozenset[str]) -> Path:
    """`folder/relative` if it is an existing, visible file of one of `suffixes` inside `folder`
    (no `..`, no symlink out, no NUL or other name the file system refuses): 404 otherwise."""
    try:
        candidate = (folder / relative).resolve()
        found = candidate.is_relative_to(folder) and candidate.is_file()
    except (OSError, ValueError):  # e.g. "embedded null byte" from %00
        found = False
    if not found or candidate.suffix.lower() not in suffixes or candidate.name.startswith("."):
        raise HTTPException(status_code=404, detail="Not found")
    return candidate


app = FastAPI(
    title="Victims Code reports",
    description="Read-only: the compliance reports written to out/report/.",
    dependencies=[Depends(require_airflow_user)],
    docs_url=None, redoc_url=None, openapi_url=None,
)


@app.get("/", response_class=HTMLResponse)
def index() -> HTMLResponse:
    """The latest report first, then every report, newest period first."""
    from vcpipeline.report.build import render_index
    from vcpipeline.report.periods import parse_period
    from vcpipeline.report.run import list_reports

    entries = [(f"reports/{name}", parse_period(period).label) for name, period in list_reports(report_folder())]
    return HTMLResponse(render_index(entries, "Victims Code compliance reports"), headers=REPORT_HEADERS)


@app.get("/api/reports")
def reports() -> list[dict[str, str]]:
    """The reports as data, newest first (what the index page lists)."""
    from vcpipeline.report.periods import parse_period
    from vcpipeline.report.run import list_reports

    return [{"period": period, "label": parse_period(period).label, "file": name, "href": f"reports/{name}"}
            for name, period in list_reports(report_folder())]


@app.get("/latest")
def latest() -> RedirectResponse:
    """The newest report (by period); 404 when there is none yet."""
    from vcpipeline.report.run import list_reports

    found = list_reports(report_folder())
    if not found:
        raise HTTPException(status_code=404, detail="No report has been produced yet")
    # Relative, so it works under any base URL; the report's own relative links then resolve here.
    return RedirectResponse(url=f"reports/{found[0][0]}", status_code=307)


@app.get("/reports/{relative:path}")
def report_file(relative: str) -> FileResponse:
    """A report page or one of its CSV / Parquet tables."""
    return FileResponse(_inside(report_folder(), relative, SERVED_SUFFIXES), headers=REPORT_HEADERS)


@app.get("/data_docs/{relative:path}")
def data_docs(relative: str) -> FileResponse:
    """Great Expectations' Data Docs, which each report links to (`../data_docs/index.html`)."""
    return FileResponse(_inside(data_docs_folder(), relative or "index.html", DATA_DOCS_SUFFIXES),
                        headers=DATA_DOCS_HEADERS)


class VcpReportsPlugin(AirflowPlugin):
    name = "vcp_reports"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": app, "url_prefix": URL_PREFIX, "name": "Victims Code reports"},
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "Victims Code reports",
            # No leading slash: resolved against the API server's base URL, so it works under a prefix.
            "href": "vcp-reports/",
            "destination": "nav",
            "category": "browse",
            "url_route": "vcp-reports",
        },
    ]
