"""Data Docs: the night's validation results as static HTML that opens without a network.

GX builds the site (a page per validation, a page per suite, an index). Its templates load
Bootstrap, jQuery, Font Awesome, Vega and bootstrap-table from public CDNs and the index table
is drawn by that JavaScript, so offline the index would be empty and a police network would
call out to third parties on every view. After GX has built the site we remove every remote
`<link>`/`<script>` and the inline scripts that need them, point the logo at GX's own copy, add
a small local stylesheet and write the index's list of validations as plain HTML. The
validation and suite pages are server-side HTML already; only interactive extras (filtering,
collapsing) are lost, and no page runs any script.

Source values are hostile input: GX escapes the parameters of its string templates but writes
plain table cells (sampled unexpected values, observed values such as a feed's column names)
into the page as they are, so a reporting unit `<script>…</script>` would run in whoever opens
the page. Every string of what a validation observed is therefore HTML-escaped before GX
renders it (`_inert`), on a copy: the caller's result keeps the real values.

GX deletes every page of its site it was not given this time, so each run's site is built in a
scratch folder and copied in; `docs_index` keeps the history (a window of days) and the index.
A row expectation that failed only quarantined rows (the batch loaded) reads "rows quarantined",
not a red FAILED (`_row_level_wording`).
"""

from __future__ import annotations

import copy
import html
import json
import re
import shutil
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vcpipeline.validation.docs_index import (
    prune_data_docs,
    sidecar_path,
    status_words,
    write_data_docs_index,
)
from vcpipeline.validation.suites import expectation_level, load_suite_dict

SITE_NAME = "vcp_local_site"
OFFLINE_CSS = "static/styles/vcp_offline.css"
_REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>\s*", re.IGNORECASE)
_REMOTE_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>\s*",
                            re.IGNORECASE)
_REMOTE_IMAGE = re.compile(r"src=\"https://great-expectations-web-assets[^\"]*\"", re.IGNORECASE)
_REMOTE_CSS_URL = re.compile(r"url\(['\"]?https?://[^)]*\)", re.IGNORECASE)
# GX's status icon of one expectation (the page's own status icon carries aria-hidden), and the
# red count of unexpected values it draws under a failed one.
_STATUS_MARK = re.compile(r'<i class="fas (?:fa-check-circle text-success|fa-times text-danger|'
                          r'fa-exclamation-triangle text-warning)" ></i>|<strong class="text-danger" >')
_PAGE_STATUS = re.compile(r'(<span class="h6" >Status:</span>\s*)<i class="fas fa-times text-danger" '
                          r'aria-hidden="true"></i>\s*Failed')
_ROW_WORDS = {"quarantined": "rows quarantined", "flagged": "rows flagged (warning)"}
_TABLE_LEVEL = "Table-Level Expectations"
_INLINE_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>\s*", re.IGNORECASE | re.DOTALL)
_CSS = """/* Local stand-in for the CDN stylesheets GX's templates reference (see docs.py). */
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1b1b1b; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #b1b4b6; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
.text-danger, .vcp-failed { color: #d4351c; } .text-success, .vcp-passed { color: #00703c; }
.collapse:not(.show) { display: none; } .d-none { display: none; }
code, pre { background: #f3f2f1; padding: 0 0.2rem; }
footer, #ge-cta-footer, .ge-cta { display: none; }
.vcp-index { margin: 1rem 0 2rem; }
.vcp-quarantined { color: #8a4b00; font-weight: bold; } /* amber: rows set aside, the batch loaded */
/* GX's status icons came from Font Awesome's CDN: the same meaning as characters. */
.fa-check-circle::before { content: "\\2713"; } .fa-times::before { content: "\\2717"; }
.fa-exclamation-triangle::before { content: "\\26A0"; }
button[onclick] { display: none; } /* the table filters' buttons: their script is gone */
"""


def _results(validations: Iterable[Any]) -> list[tuple[str, str, Any]]:
    """(suite name, batch name, GX result) for BatchValidation objects or bare GX results."""
    named: list[tuple[str, str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for item in validations:
        result = getattr(item, "result", item)
        suite = getattr(item, "suite_name", None) or result.suite_name
        meta = result.meta or {}
        batch = str((meta.get("active_batch_definition") or {}).get("data_asset_name") or suite)
        count = seen[(suite, batch)] = seen.get((suite, batch), 0) + 1
        named.append((suite, batch if count == 1 else f"{batch}-{count}", result))
    return named


def _escaped(value: Any) -> Any:
    """`value` with every string in it (also inside lists and dicts) HTML-escaped."""
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, dict):
        return {_escaped(key): _escaped(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(_escaped(item) for item in value)
    return value


def _inert(result: Any) -> Any:
    """A copy of a GX suite result whose observed values render as text, never as markup.

    Escaped: what GX writes raw (the `result` details, an exception's traceback). Not escaped:
    what it already escapes as a string-template parameter (an exception's message, the
    suite's own configuration), which would otherwise show as `&amp;lt;`.
    """
    inert = copy.deepcopy(result)
    for expectation_result in inert.results:
        expectation_result.result = _escaped(expectation_result.result or {})
        info = expectation_result.exception_info or {}
        for exception in [info, *(item for item in info.values() if isinstance(item, dict))]:
            if isinstance(exception.get("exception_traceback"), str):
                exception["exception_traceback"] = html.escape(exception["exception_traceback"])
    return inert


def _offline(page: Path, root: Path) -> None:
    text = page.read_text(encoding="utf-8")
    # Inline scripts go too: every one drives jQuery, which went with the CDN links.
    text = _INLINE_SCRIPT.sub("", _REMOTE_SCRIPT.sub("", _REMOTE_LINK.sub("", text)))
    text = _REMOTE_CSS_URL.sub("none", text)
    prefix = "../" * (len(page.relative_to(root).parts) - 1)
    text = _REMOTE_IMAGE.sub(f'src="{prefix}static/images/logo-long.png"', text)
    text = text.replace("</head>", f'<link rel="stylesheet" href="{prefix}{OFFLINE_CSS}">\n</head>', 1)
    page.write_text(text, encoding="utf-8")


def _expectation_outcome(result: Any) -> str:
    """What one expectation's result means here: `passed`, `error` (it could not be evaluated),
    `failed` (a batch expectation: the batch does not load), `quarantined` (a critical row
    expectation: its rows were quarantined, the rest loaded) or `flagged` (a warning)."""
    info = result.exception_info or {}
    raised = info.get("raised_exception") if "raised_exception" in info else any(
        isinstance(item, dict) and item.get("raised_exception") for item in info.values())
    if raised:
        return "error"
    if result.success:
        return "passed"
    config = result.expectation_config
    if expectation_level({"meta": (config.meta if config is not None else None) or {}}) == "batch":
        return "failed"
    severity = str(getattr(config.severity, "value", config.severity) or "critical").lower()
    return "quarantined" if severity == "critical" else "flagged"


def _page_order(result: Any) -> list[Any]:
    """The expectation results in the order GX's validation page shows them: table-level
    expectations, then each column's (GX's own column order), each group in suite order."""
    from great_expectations.render.renderer.renderer import Renderer

    by_column: dict[str, list[Any]] = {}
    for item in result.results:
        kwargs = item.expectation_config.kwargs if item.expectation_config is not None else {}
        by_column.setdefault(str(kwargs.get("column", _TABLE_LEVEL)), []).append(item)
    columns = [_TABLE_LEVEL, *(str(c) for c in Renderer._get_column_list_from_evrs(result))]
    return [item for column in dict.fromkeys(columns) for item in by_column.get(column, [])]


def _validation_status(item: Any, result: Any) -> tuple[str, int | None, int | None]:
    """(`passed` | `quarantined` | `failed`, rows quarantined, rows flagged) of one validation.

    A `BatchValidation` knows whether its batch loaded and how many rows it quarantined; for a
    bare GX result, the batch failed when a batch expectation failed or one raised."""
    outcomes = [_expectation_outcome(r) for r in result.results]
    if hasattr(item, "loadable"):
        quarantined, flagged = len(item.row_failures), len(item.row_warnings)
        if not item.loadable:
            return "failed", quarantined, flagged
        return ("quarantined" if quarantined or flagged else "passed"), quarantined, flagged
    if "failed" in outcomes or "error" in outcomes:
        return "failed", None, None
    return ("quarantined" if {"quarantined", "flagged"} & set(outcomes) else "passed"), None, None


def _row_level_wording(page: Path, result: Any, status_words: str | None) -> bool:
    """Say "rows quarantined" (not a red FAILED) for row expectations that only quarantined rows.

    GX draws one status icon per expectation, in `_page_order`, and a red "N unexpected values
    found" under a failed one. Each icon of a row expectation's failure becomes the words, and
    its count turns amber; `status_words` replaces the page's "Status: Failed" when the batch
    loaded. Only when the page's icons match the results one for one (else left as GX drew it).
    """
    order = _page_order(result)
    text = page.read_text(encoding="utf-8")
    icons = [m for m in _STATUS_MARK.finditer(text) if m.group(0).startswith("<i")]
    kinds = {"passed": "fa-check-circle", "error": "fa-exclamation-triangle"}
    outcomes = [_expectation_outcome(item) for item in order]
    if len(icons) != len(order) or any(kinds.get(outcome, "fa-times") not in icon.group(0)
                                       for outcome, icon in zip(outcomes, icons, strict=True)):
        return False
    pieces, at, index, current = [], 0, -1, ""
    for mark in _STATUS_MARK.finditer(text):
        pieces.append(text[at:mark.start()])
        at = mark.end()
        if mark.group(0).startswith("<i"):
            index += 1
            current = outcomes[index]
            words = _ROW_WORDS.get(current)
            pieces.append(f'<span class="vcp-quarantined">{words}</span>' if words else mark.group(0))
        else:  # the unexpected-values count under the icon just seen
            pieces.append('<strong class="vcp-quarantined" >' if current in _ROW_WORDS else mark.group(0))
    pieces.append(text[at:])
    text = "".join(pieces)
    if status_words is not None:
        text = _PAGE_STATUS.sub(rf'\1<span class="vcp-quarantined">{html.escape(status_words)}</span>',
                                text, count=1)
    page.write_text(text, encoding="utf-8")
    return True


def build_data_docs(validations: Iterable[Any], folder: Path, *, run_name: str = "validation",
                    run_time: datetime | None = None, offline: bool = True,
                    site_root: Path | None = None, history_days: int | None = None) -> Path:
    """Add the run's validations to the static Data Docs site in `folder`; return its index.html.

    `validations` are `BatchValidation`s (or GX validation results). Earlier runs' pages stay
    for `history_days` (default `settings.data_docs_history_days()`), then are pruned; the
    index lists every page kept, newest first. With `site_root` (a folder above `folder`, one
    site per source below it) `site_root/index.html` lists every source's pages too. With
    `offline` (the default) the pages reference nothing outside the site.
    """
    from vcpipeline import settings

    root = Path(folder).resolve()
    root.mkdir(parents=True, exist_ok=True)
    when = run_time or datetime.now(UTC)
    # GX deletes every page of its site it was not given this time: build in a scratch folder
    # and copy the new pages in, so earlier nights' pages stay.
    with tempfile.TemporaryDirectory(prefix="vcp-data-docs-") as scratch:
        _build_site(validations, Path(scratch), run_name=run_name, run_time=when, offline=offline,
                    source=root.name if site_root is None else root.relative_to(Path(site_root).resolve()).as_posix())
        shutil.copytree(scratch, root, dirs_exist_ok=True)
    days = settings.data_docs_history_days() if history_days is None else history_days
    prune_data_docs(root, when - timedelta(days=days))
    index = _write_index(root) if offline else root / "index.html"
    if site_root is not None and offline:
        _write_index(Path(site_root))
    return index


def _write_index(root: Path) -> Path:
    """The index of every page kept under `root`, with the offline stylesheet beside it."""
    (root / OFFLINE_CSS).parent.mkdir(parents=True, exist_ok=True)
    (root / OFFLINE_CSS).write_text(_CSS, encoding="utf-8")
    return write_data_docs_index(root, OFFLINE_CSS)


def _build_site(validations: Iterable[Any], root: Path, *, run_name: str, run_time: datetime,
                offline: bool, source: str) -> None:
    """GX's site for these validations alone in `root`, made offline, each validation page
    reworded for row-level failures and described by a sidecar (`*.vcp.json`) for the index."""
    from vcpipeline.validation.gx import ephemeral_context, quiet_gx

    quiet_gx()
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = ephemeral_context({SITE_NAME: {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(root)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }})
    run_id = RunIdentifier(run_name=run_name, run_time=run_time)
    items = list(validations)
    named = _results(items)
    keys = []
    for suite, batch, result in named:
        result.meta["run_id"] = run_id
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite),
            run_id=run_id, batch_identifier=batch,
        )
        context.validation_results_store.set(key, _inert(result))
        keys.append(key)
    for suite in sorted({suite for suite, _, _ in named}):
        try:
            context.suites.add(ExpectationSuite(**load_suite_dict(suite)))
        except Exception:  # a result from a suite not kept as JSON: its page is just not built
            continue
    context.build_data_docs(site_names=[SITE_NAME])
    (root / "index.html").unlink(missing_ok=True)  # GX's index lists this run only: ours replaces it

    if offline:
        (root / OFFLINE_CSS).parent.mkdir(parents=True, exist_ok=True)
        (root / OFFLINE_CSS).write_text(_CSS, encoding="utf-8")
        for page in root.rglob("*.html"):
            _offline(page, root)
        for sheet in root.rglob("*.css"):
            sheet.write_text(_REMOTE_CSS_URL.sub("none", sheet.read_text(encoding="utf-8")), encoding="utf-8")
    for item, (suite, batch, result), key in zip(items, named, keys, strict=True):
        page = root.joinpath("validations", *key.to_tuple()[:-1], f"{key.to_tuple()[-1]}.html")
        if not page.is_file():
            continue
        status, quarantined, flagged = _validation_status(item, result)
        if offline:
            _row_level_wording(page, result, status_words(status, quarantined, flagged)
                               if status != "failed" else None)
        sidecar_path(page).write_text(json.dumps({
            "source": source, "suite": suite, "batch": batch, "run_name": run_name,
            "run_time": run_time.astimezone(UTC).isoformat(), "status": status,
            "rows_quarantined": quarantined, "rows_flagged": flagged,
        }), encoding="utf-8")
