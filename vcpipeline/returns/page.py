"""The one-page HTML of a return, and of a combination of returns (self-contained, no scripts).

Built from the same rows as the CSV, with no clock reading, so a rebuild gives the same bytes.
A withheld figure prints as `[c]` (the ONS mark) and a partial total as its published part
followed by `(partial)`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

import pandas as pd

SUPPRESSED = "[c]"
SECTION_TITLES: dict[str, str] = {
    "compliance": "Compliance per rule (obligations due in the quarter), force-wide and by owner",
    "victims": "Victims compliant with every entitlement (board paper Q1), by department",
    "agreed_method": "Updates given by the victim's agreed method",
    "survey": "Dip-sample survey: quality questions, share Yes among applicable, 95% interval",
    "breakdown": "Compliant victims (Q1) by who they are",
    "data_quality": "Data quality: rows quarantined, by source and reason",
}
STYLE = ("body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:70rem}table{border-collapse:collapse;"
         "margin:0 0 1.2rem;font-size:.85rem}th,td{border:1px solid #bbb;padding:.2rem .45rem;text-align:left}"
         "td.n{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left;font-weight:600;"
         "padding:.3rem 0}dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem}dt{font-weight:600}"
         "@media print{body{margin:0;font-size:9pt}}")


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def count_text(value: Any) -> str:
    return SUPPRESSED if _missing(value) else f"{int(value):,}"


def rate_text(value: Any) -> str:
    return "" if _missing(value) else f"{float(value):.1%}"


def _row(cells: Sequence[tuple[str, bool]], header: bool = False) -> str:
    tag = "th" if header else "td"
    return "<tr>" + "".join(f'<{tag}{" class=n" if numeric and not header else ""}>{escape(text)}</{tag}>'
                            for text, numeric in cells) + "</tr>"


def _table(caption: str, headings: Sequence[str], rows: Sequence[Sequence[tuple[str, bool]]]) -> str:
    return (f"<table><caption>{escape(caption)}</caption><thead>"
            + _row([(h, False) for h in headings], header=True) + "</thead><tbody>"
            + "".join(_row(r) for r in rows) + "</tbody></table>")


def _figures(row: dict[str, Any]) -> list[tuple[str, bool]]:
    interval = ("" if _missing(row.get("ci_lower")) else
                f"{rate_text(row['ci_lower'])} to {rate_text(row['ci_upper'])}")
    partial = " (partial)" if row.get("partial") else ""
    return [(count_text(row["numerator"]) + partial, True), (count_text(row["denominator"]) + partial, True),
            (rate_text(row["rate"]), True), (interval, True)]


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>\n{body}\n</body></html>\n")


def return_page(frame: pd.DataFrame, manifest: dict[str, Any]) -> str:
    """One force's return: what it rests on, then a table per section."""
    facts = [("Force", manifest["force"]), ("Quarter", manifest["quarter"]), ("Issue", str(manifest["issue"])),
             ("Schema", manifest["schema_version"]), ("As of", manifest["as_of"]),
             ("Rule set", manifest["ruleset_version"]), ("Rule-set SHA-256", manifest["ruleset_fingerprint"]),
             ("Survey", f"latest published: {manifest['survey_quarter']}"),
             ("Disclosure control", f"no cell under {manifest['disclosure_threshold']} victims; {SUPPRESSED} = withheld"),
             ("CSV SHA-256", manifest["csv_sha256"])]
    parts = ["<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in facts) + "</dl>"]
    rows = frame.to_dict(orient="records")
    for section, title in SECTION_TITLES.items():
        chosen = [r for r in rows if r["section"] == section]
        if chosen:
            parts.append(_table(title, ["Measure", "By", "Category", "Numerator", "Denominator", "Rate",
                                        "95% interval"],
                                [[(r["measure"], False), (r["dimension"], False), (r["category"], False),
                                  *_figures(r)] for r in chosen]))
    return _page(f"Victims Code compliance return: {manifest['force']} {manifest['quarter']}", "\n".join(parts))


def combined_page(combined: pd.DataFrame, manifests: Sequence[dict[str, Any]]) -> str:
    """The forces side by side per figure, then their total (recomputed from the counts)."""
    quarter = manifests[0]["quarter"] if manifests else ""
    facts = _table("Returns combined", ["Force", "Quarter", "Issue", "As of", "Rule set", "Survey quarter",
                                        "CSV SHA-256"],
                   [[(str(m[k]), False) for k in ("force", "quarter", "issue", "as_of", "ruleset_version",
                                                  "survey_quarter", "csv_sha256")] for m in manifests])
    parts = [facts, "<p>Totals (ALL) add the forces' counts; a total marked (partial) leaves out a "
             f"figure a force withheld ({SUPPRESSED}) and has no rate.</p>"]
    rows = combined.to_dict(orient="records")
    for section, title in SECTION_TITLES.items():
        chosen = [r for r in rows if r["section"] == section]
        if chosen:
            parts.append(_table(title, ["Measure", "By", "Category", "Force", "Numerator", "Denominator", "Rate",
                                        "95% interval"],
                                [[(r["measure"], False), (r["dimension"], False), (r["category"], False),
                                  (r["force"], False), *_figures(r)] for r in chosen]))
    return _page(f"Victims Code compliance returns combined: {quarter}", "\n".join(parts))
