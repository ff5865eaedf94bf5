"""Write a return as files, and read one back only once it proves itself.

A return is four files with one stem, `victims-code-return-<FORCE>-<quarter>-v<issue>`:
`.csv` (the rows), `.schema.json` (its Table Schema), `.manifest.json` (force, quarter, issue,
schema version, rule set, as-of, and the SHA-256 of the CSV and schema bytes) and `.html`. The
bytes depend only on the warehouse, so a rebuild writes the same files; a rebuild whose CSV
differs from the latest issue (the quarter's survey was published since) becomes the next issue.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from vcpipeline.returns.table import (
    COLUMNS,
    FIELDS,
    SCHEMA_VERSION,
    ReturnError,
    check_header,
    format_value,
    parse_rows,
    table_schema,
)

PREFIX = "victims-code-return-"
MANIFEST = ".manifest.json"
_ISSUE = re.compile(r"-v(\d+)\.manifest\.json$")


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The return's rows as UTF-8 CSV (COLUMNS in order): see `csv_bytes_of`."""
    return csv_bytes_of(frame[list(COLUMNS)])


def json_bytes(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def about(frame: pd.DataFrame) -> dict[str, str]:
    rows = frame[frame["section"] == "about"]
    return dict(zip(rows["measure"].astype(str), rows["text"].astype(str), strict=True))


def next_issue(folder: Path, force: str, quarter: str, digest: str) -> int:
    """The issue number for a return whose CSV has `digest`: the latest issue's when unchanged,
    else one more."""
    latest, latest_digest = 0, None
    for manifest in folder.glob(f"{PREFIX}{force}-{quarter}-v*{MANIFEST}"):
        found = _ISSUE.search(manifest.name)
        if found and int(found.group(1)) > latest:
            latest = int(found.group(1))
            latest_digest = json.loads(manifest.read_text(encoding="utf-8")).get("csv_sha256")
    return latest if latest and latest_digest == digest else latest + 1


def write_return(frame: pd.DataFrame, folder: Path, force: str, quarter: str) -> Path:
    """Write the return's four files into `folder`; the manifest's path."""
    from vcpipeline.returns.page import return_page

    folder.mkdir(parents=True, exist_ok=True)
    data = csv_bytes(frame)
    schema = json_bytes(table_schema())
    issue = next_issue(folder, force, quarter, sha256(data))
    stem = f"{PREFIX}{force}-{quarter}-v{issue}"
    facts = about(frame)
    manifest = {
        "schema_version": SCHEMA_VERSION, "force": force, "quarter": quarter, "issue": issue,
        "csv": f"{stem}.csv", "csv_sha256": sha256(data),
        "schema": f"{stem}.schema.json", "schema_sha256": sha256(schema),
        "rows": len(frame), **{key: facts.get(key, "") for key in (
            "as_of", "ruleset_version", "ruleset_fingerprint", "survey_quarter", "disclosure_threshold")},
    }
    (folder / f"{stem}.csv").write_bytes(data)
    (folder / f"{stem}.schema.json").write_bytes(schema)
    (folder / f"{stem}.html").write_bytes(return_page(frame, manifest).encode("utf-8"))
    path = folder / f"{stem}{MANIFEST}"
    path.write_bytes(json_bytes(manifest))
    return path


@dataclass(frozen=True)
class VerifiedReturn:
    manifest: dict[str, Any]
    rows: list[dict[str, Any]]
    path: Path


def manifest_path(path: Path) -> Path:
    """The manifest of a return named by any of its files."""
    name = path.name
    for suffix in (MANIFEST, ".schema.json", ".csv", ".html"):
        if name.endswith(suffix):
            return path.with_name(name.removesuffix(suffix) + MANIFEST)
    return path


def read_manifest(path: Path) -> dict[str, Any]:
    manifest = manifest_path(path)
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReturnError(f"{path.name}: no manifest {manifest.name} beside it") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReturnError(f"{manifest.name}: manifest is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(document, dict):
        raise ReturnError(f"{manifest.name}: manifest is not a JSON object")
    return document


def verify_return(path: Path) -> VerifiedReturn:
    """The return's manifest and typed rows, after checking: a schema version this code reads, the
    CSV's and schema's SHA-256 against the manifest, the schema's fields, every row's types,
    constraints and sums, and the rows' force and quarter against the manifest.

    Raises ReturnError with a one-line reason naming the file."""
    manifest = read_manifest(path)
    name = manifest_path(path).name
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ReturnError(f"{name}: schema version {version!r}, this build reads {SCHEMA_VERSION!r}")
    folder = manifest_path(path).parent
    try:
        data = (folder / str(manifest["csv"])).read_bytes()
        schema_data = (folder / str(manifest["schema"])).read_bytes()
    except KeyError as exc:
        raise ReturnError(f"{name}: manifest has no {exc.args[0]!r}") from None
    except FileNotFoundError as exc:
        raise ReturnError(f"{name}: {Path(str(exc.filename)).name} is missing") from None
    if sha256(data) != manifest.get("csv_sha256"):
        raise ReturnError(f"{name}: checksum mismatch: {manifest['csv']} is not the file the manifest describes")
    if sha256(schema_data) != manifest.get("schema_sha256"):
        raise ReturnError(f"{name}: checksum mismatch: {manifest['schema']} is not the schema the manifest describes")
    try:
        schema = json.loads(schema_data)
    except json.JSONDecodeError:
        raise ReturnError(f"{name}: the schema is not JSON") from None
    if schema.get("version") != SCHEMA_VERSION:
        raise ReturnError(f"{name}: schema version {schema.get('version')!r}, this build reads {SCHEMA_VERSION!r}")
    try:
        records = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ReturnError(f"{name}: the CSV cannot be read ({exc.__class__.__name__})") from None
    if not records:
        raise ReturnError(f"{name}: the CSV is empty")
    try:
        check_header(records[0], schema)
        check_header(records[0], table_schema())
        rows = parse_rows(records[1:])
    except ReturnError as exc:
        raise ReturnError(f"{name}: {exc}") from None
    for row in rows:
        if (row["force"], row["quarter"], row["schema_version"]) != (
                manifest.get("force"), manifest.get("quarter"), SCHEMA_VERSION):
            raise ReturnError(f"{name}: a row is for {row['force']} {row['quarter']}, the manifest for "
                              f"{manifest.get('force')} {manifest.get('quarter')}")
    if len(rows) != manifest.get("rows"):
        raise ReturnError(f"{name}: {len(rows)} rows, the manifest says {manifest.get('rows')}")
    return VerifiedReturn(manifest, rows, manifest_path(path))


def csv_bytes_of(frame: pd.DataFrame) -> bytes:
    """Any table of the returns (the return, the combined one) as UTF-8 CSV with `\\n` line ends,
    every value spelled by `format_value` for its field's type."""
    kinds = {f.name: f.type for f in FIELDS} | {"partial": "boolean"}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(frame.columns))
    columns = [frame[name].tolist() for name in frame.columns]
    for values in zip(*columns, strict=True):
        writer.writerow([format_value(v, kinds.get(name, "string")) for name, v in zip(frame.columns, values,
                                                                                     strict=True)])
    return buffer.getvalue().encode("utf-8")
