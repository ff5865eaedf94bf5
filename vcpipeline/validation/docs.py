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
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vcpipeline.validation.suites import load_suite_dict

SITE_NAME = "vcp_local_site"
OFFLINE_CSS = "static/styles/vcp_offline.css"
_REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>\s*", re.IGNORECASE)
_REMOTE_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>\s*",
                            re.IGNORECASE)
_REMOTE_IMAGE = re.compile(r"src=\"https://great-expectations-web-assets[^\"]*\"", re.IGNORECASE)
_REMOTE_CSS_URL = re.compile(r"url\(['\"]?https?://[^)]*\)", re.IGNORECASE)
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


def _index_list(root: Path, entries: list[tuple[str, str, bool, Path]]) -> str:
    items = "\n".join(
        f'<li><span class="{"vcp-passed" if ok else "vcp-failed"}">{"passed" if ok else "FAILED"}</span> '
        f'<a href="{html.escape(path.relative_to(root).as_posix())}">{html.escape(suite)} — '
        f"{html.escape(batch)}</a></li>"
        for suite, batch, ok, path in entries
    )
    return f'<section class="vcp-index"><h2>Validations in this run</h2><ul>\n{items}\n</ul></section>'


def build_data_docs(validations: Iterable[Any], folder: Path, *, run_name: str = "validation",
                    run_time: datetime | None = None, offline: bool = True) -> Path:
    """Write the run's validations as a static Data Docs site in `folder`; return its index.html.

    `validations` are `BatchValidation`s (or GX validation results). With `offline` (the
    default) the pages reference nothing outside `folder`.
    """
    from vcpipeline.validation.gx import ephemeral_context, quiet_gx

    quiet_gx()
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    root = Path(folder).resolve()
    root.mkdir(parents=True, exist_ok=True)
    context = ephemeral_context({SITE_NAME: {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(root)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }})
    run_id = RunIdentifier(run_name=run_name, run_time=run_time or datetime.now(UTC))
    named = _results(validations)
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

    index = root / "index.html"
    if offline:
        (root / OFFLINE_CSS).parent.mkdir(parents=True, exist_ok=True)
        (root / OFFLINE_CSS).write_text(_CSS, encoding="utf-8")
        for page in root.rglob("*.html"):
            _offline(page, root)
        for sheet in root.rglob("*.css"):
            sheet.write_text(_REMOTE_CSS_URL.sub("none", sheet.read_text(encoding="utf-8")), encoding="utf-8")
        entries = []
        for (suite, batch, result), key in zip(named, keys, strict=True):
            page = root.joinpath("validations", *key.to_tuple()[:-1], f"{key.to_tuple()[-1]}.html")
            entries.append((suite, batch, bool(result.success), page))
        text = index.read_text(encoding="utf-8")
        marker = re.search(r"<body[^>]*>", text)
        at = marker.end() if marker else 0
        index.write_text(text[:at] + _index_list(root, entries) + text[at:], encoding="utf-8")
    return index
