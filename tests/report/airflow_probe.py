"""Run in a subprocess by test_report_plugin.py: Airflow's real API server app (create_app) with
this project's plugins loaded, in a throw-away Airflow home, asked over FastAPI's TestClient.

Its own process, because Airflow reads its home once per process and other test folders set up
homes of their own. Prints one JSON object: what each request got.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    from fastapi.testclient import TestClient

    from vcpipeline.orchestration import airflow_env

    airflow_env.migrate_metadata_db()
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    app = create_app()
    client = TestClient(app, follow_redirects=False, raise_server_exceptions=False)  # a 500 is an answer
    manager = get_auth_manager()
    viewer = manager.generate_jwt(SimpleAuthManagerUser(username="reader", role="viewer"))
    nobody = manager.generate_jwt(SimpleAuthManagerUser(username="norole", role=None))
    bearer = {"Authorization": f"Bearer {viewer}"}
    results: dict[str, object] = {}

    def record(name: str, response) -> None:
        results[name] = {"status": response.status_code, "body": response.text[:400_000],
                         "location": response.headers.get("location"),
                         "csp": response.headers.get("content-security-policy"),
                         "nosniff": response.headers.get("x-content-type-options"),
                         "type": response.headers.get("content-type")}

    record("anonymous_index", client.get("/vcp-reports/"))
    record("anonymous_latest", client.get("/vcp-reports/latest"))
    record("anonymous_report", client.get("/vcp-reports/reports/victims-code-2026Q1.html"))
    record("invalid_token", client.get("/vcp-reports/", headers={"Authorization": "Bearer not-a-jwt"}))
    record("no_role", client.get("/vcp-reports/", headers={"Authorization": f"Bearer {nobody}"}))
    record("index", client.get("/vcp-reports/", headers=bearer))
    record("index_cookie", client.get("/vcp-reports/", cookies={"_token": viewer}))
    record("list", client.get("/vcp-reports/api/reports", headers=bearer))
    record("latest", client.get("/vcp-reports/latest", headers=bearer))
    record("report", client.get("/vcp-reports/reports/victims-code-2026Q1.html", headers=bearer))
    record("csv", client.get("/vcp-reports/reports/victims-code-2026Q1-data/by_rule.csv", headers=bearer))
    record("traversal", client.get("/vcp-reports/reports/..%2F..%2Fsecret.txt", headers=bearer))
    record("hidden_suffix", client.get("/vcp-reports/reports/notes.txt", headers=bearer))
    record("data_docs", client.get("/vcp-reports/data_docs/index.html", headers=bearer))
    record("post", client.post("/vcp-reports/", headers=bearer))
    record("delete", client.delete("/vcp-reports/reports/victims-code-2026Q1.html", headers=bearer))
    # More GETs as a signed-in viewer, named by the test: {"name": "/vcp-reports/..."}.
    for name, path in json.loads(os.environ.get("VCP_PROBE_GETS", "{}")).items():
        record(name, client.get(path, headers=bearer))
    plugins = client.get("/api/v2/plugins", headers=bearer)
    record("plugins", plugins)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
