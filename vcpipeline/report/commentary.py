"""The performance lead's commentary: a Markdown file per period, rendered safely.

The board paper's narrative carried its meaning; the report keeps a place for it. The lead writes
`<commentary folder>/<period>.md` (default `<report folder>/commentary/`, or
`VCP_REPORT_COMMENTARY_DIR`). Markdown is rendered with markdown-it-py (already installed with
rich) with raw HTML off (typed `<script>` shows as text), images off (the report loads nothing
from elsewhere) and markdown-it's link check (no `javascript:`/`data:` links).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup


def commentary_folder(report_folder: Path) -> Path:
    configured = os.environ.get("VCP_REPORT_COMMENTARY_DIR", "").strip()
    return Path(configured) if configured else report_folder / "commentary"


def commentary_path(report_folder: Path, period: str) -> Path:
    return commentary_folder(report_folder) / f"{period}.md"


def read_commentary(report_folder: Path, period: str) -> str | None:
    """The period's Markdown, or None when the lead has not written it."""
    path = commentary_path(report_folder, period)
    return path.read_text(encoding="utf-8") if path.is_file() else None


@lru_cache(maxsize=1)
def _parser():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "typographer": True}).enable("table").disable("image")


def render_commentary(markdown: str, top_level: int = 3) -> Markup:
    """Markdown to HTML with any HTML in it escaped (never passed through); its headings start
    at `top_level` (under the section's h2), so `# Needs assessment` is an h3."""
    parser = _parser()
    tokens = parser.parse(markdown)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + top_level - 1)}"
    return Markup(parser.renderer.render(tokens, parser.options, {}))
