"""The Data Docs history: which validation pages are kept, for how long, and the index of them.

GX rebuilds its index from the validations it is given each time, so the history is ours: each
validation page has a sidecar (`<page>.vcp.json`: source, suite, batch, run, when, what it found)
written beside it; pages older than the window are pruned with their sidecars; and an index of
every page kept, newest first, is written per source folder and for the whole site.
"""

from __future__ import annotations

import html
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

SIDECAR_SUFFIX = ".vcp.json"


def status_words(status: str, quarantined: int | None, flagged: int | None) -> str:
    """What a validation found, in words: only a batch that did not load reads FAILED."""
    if status == "failed":
        return "FAILED: batch not loaded"
    if status == "passed":
        return "passed"
    parts = [_rows(quarantined, "quarantined") if quarantined is not None else "rows quarantined"]
    if flagged:
        parts.append(_rows(flagged, "flagged"))
    return "loaded; " + ", ".join(parts)


def _rows(count: int, what: str) -> str:
    return f"{count:,} row{'' if count == 1 else 's'} {what}"


def sidecar_path(page: Path) -> Path:
    """`<page>.vcp.json` beside the page (a file type the reports plugin never serves)."""
    return page.with_name(page.stem + SIDECAR_SUFFIX)


def _entries(folder: Path) -> list[dict[str, Any]]:
    """Every validation page kept under `folder` (what its sidecar says), newest first."""
    entries = []
    for sidecar in folder.rglob(f"*{SIDECAR_SUFFIX}"):
        try:
            entry = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        page = sidecar.with_name(sidecar.name.removesuffix(SIDECAR_SUFFIX) + ".html")
        if page.is_file():
            entries.append({**entry, "path": page})
    return sorted(entries, key=lambda e: (e["run_time"], e["source"], e["suite"], e["batch"]), reverse=True)


def prune_data_docs(folder: Path, keep_since: datetime) -> int:
    """Delete the validation pages under `folder` validated before `keep_since`; how many."""
    pruned = 0
    for entry in _entries(folder):
        if datetime.fromisoformat(entry["run_time"]) < keep_since:
            entry["path"].unlink(missing_ok=True)
            sidecar_path(entry["path"]).unlink(missing_ok=True)
            pruned += 1
    pages = folder / "validations"
    for directory in sorted((d for d in pages.rglob("*") if d.is_dir()), key=lambda d: len(d.parts),
                            reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
    return pruned


def _local_time(iso: str) -> str:
    from zoneinfo import ZoneInfo

    from vcpipeline.calendar import LONDON

    return datetime.fromisoformat(iso).astimezone(ZoneInfo(LONDON)).strftime("%a %d %b %Y %H:%M")


def write_data_docs_index(root: Path, stylesheet: str, title: str = "Data Docs: validation results") -> Path:
    """`root/index.html`: every validation page kept under `root` (every source, every night),
    newest first, with what it found in words, and the expectation suites. No script, no CDN."""
    root = root.resolve()
    entries = _entries(root)
    rows = "\n".join(
        f'<tr><td>{html.escape(_local_time(e["run_time"]))}</td><td>{html.escape(e["source"])}</td>'
        f'<td>{html.escape(e["run_name"])}</td>'
        f'<td><a href="{html.escape(e["path"].relative_to(root).as_posix())}">{html.escape(e["suite"])} — '
        f'{html.escape(e["batch"])}</a></td>'
        f'<td class="vcp-{html.escape(e["status"])}">'
        f'{html.escape(status_words(e["status"], e.get("rows_quarantined"), e.get("rows_flagged")))}</td></tr>'
        for e in entries
    )
    suites = sorted(page.relative_to(root) for page in root.rglob("expectations/*.html"))
    suite_items = "\n".join(
        f'<li><a href="{html.escape(path.as_posix())}">{html.escape(path.stem)}</a>'
        f'{" (" + html.escape("/".join(path.parts[:-2])) + ")" if len(path.parts) > 2 else ""}</li>'
        for path in suites)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="{html.escape(stylesheet)}">
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>Every validation of the last days kept (newest first). "Rows quarantined" means the batch
loaded and the rows that failed a row check were set aside with their reason
(<code>vcp quarantine list</code>); "FAILED" means the batch did not load.</p>
<section class="vcp-index"><h2>Validations</h2>
<table>
<thead><tr><th>Validated (UK time)</th><th>Source</th><th>Run</th><th>Suite — batch</th><th>Result</th></tr></thead>
<tbody>
{rows or '<tr><td colspan="5">No validation kept yet.</td></tr>'}
</tbody>
</table>
</section>
<section><h2>Expectation suites</h2><ul>
{suite_items}
</ul></section>
</body>
</html>
"""
    index = root / "index.html"
    temporary = index.with_name(f".index-{os.getpid()}.html")
    temporary.write_text(page, encoding="utf-8")
    os.replace(temporary, index)  # a reader never sees half a page; the last writer wins
    return index
