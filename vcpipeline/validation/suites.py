"""Expectation suites, kept as JSON in `expectations/` and loaded with GX's own `ExpectationSuite`.

A suite file is GX's suite dict (`name`, `expectations`, `meta`) with two conventions of ours:

- each expectation's `meta.level` is `"batch"` (a failure means the whole batch must not load:
  schema, empty feed, volume) or `"row"` (the default: failing rows are quarantined);
- the suite's `meta.derive` names the columns validation computes before GX sees the frame
  (parsed instants, the row's crime's report time, whether its crime is known, repeated rows),
  so the JSON says everything the suite checks. See `frame.validation_frame`.

Row expectations of severity `warning` are reported but quarantine nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from great_expectations.core.expectation_suite import ExpectationSuite

Level = Literal["batch", "row"]

SUITES_ENV = "VCP_EXPECTATIONS_DIR"
_DEFAULT_DIR = Path(__file__).resolve().parents[2] / "expectations"


class SuiteError(ValueError):
    """A suite that does not exist or is malformed: one clear line for the user."""


def suites_dir() -> Path:
    """`VCP_EXPECTATIONS_DIR`, or the project's `expectations/` folder."""
    return Path(os.environ.get(SUITES_ENV, _DEFAULT_DIR))


def suite_names(folder: Path | None = None) -> list[str]:
    """Every suite in the folder (file stem = suite name), sorted."""
    return sorted(path.stem for path in (folder or suites_dir()).glob("*.json"))


@cache
def _read(path: Path, mtime_ns: int) -> dict[str, Any]:
    del mtime_ns  # part of the cache key only: an edited file is read again
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("expectations"), list):
        raise SuiteError(f"{path}: a suite is an object with an `expectations` list")
    if document.get("name") != path.stem:
        raise SuiteError(f"{path}: suite name {document.get('name')!r} must equal the file name")
    for expectation in document["expectations"]:
        level = expectation.get("meta", {}).get("level", "row")
        if level not in ("batch", "row"):
            raise SuiteError(f"{path}: {expectation.get('type')}: meta.level must be batch or row")
    return document


def load_suite_dict(name: str, folder: Path | None = None) -> dict[str, Any]:
    """The suite's JSON document (a fresh copy: callers may change it)."""
    path = (folder or suites_dir()) / f"{name}.json"
    if not path.is_file():
        raise SuiteError(f"no expectation suite {name!r} in {path.parent}")
    return json.loads(json.dumps(_read(path, path.stat().st_mtime_ns)))


def load_suite(name: str, folder: Path | None = None) -> ExpectationSuite:
    """The suite as GX's `ExpectationSuite` (imports GX: call it inside a task, not at DAG parse)."""
    from vcpipeline.validation.gx import quiet_gx

    quiet_gx()
    from great_expectations.core.expectation_suite import ExpectationSuite

    return ExpectationSuite(**load_suite_dict(name, folder))


def expectation_level(expectation: Mapping[str, Any]) -> Level:
    """Batch or row, from the expectation's `meta.level` (row when unsaid)."""
    meta = expectation.get("meta") or {}
    return "batch" if meta.get("level") == "batch" else "row"


def expectation_label(expectation_type: str, kwargs: Mapping[str, Any]) -> str:
    """How a failure is named in quarantine reasons: `expect_column_values_to_be_in_set(event_type)`."""
    if "column" in kwargs:
        columns = [kwargs["column"]]
    elif "column_A" in kwargs:
        columns = [kwargs["column_A"], kwargs["column_B"]]
    else:
        columns = list(kwargs.get("column_list") or [])
    return f"{expectation_type}({','.join(map(str, columns))})" if columns else expectation_type
