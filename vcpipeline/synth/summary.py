"""What the generated force really holds: on-time rates per owning department and rule, the
share of obligations WAIVED and the share met by the victim's agreed method, measured.

`vcp generate --summary` proves the calibration by measuring the rows it wrote: they go through
the real adapters and the real rule engine (`vcpipeline.rules`), as of the extract, exactly as
the pipeline would see them, rather than echoing the generator's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from vcpipeline.canonical import DEPARTMENTS
from vcpipeline.parsing import parse_instants

SUMMARY_COLUMNS = ("department", "rule", "obligations", "decided", "met_on_time", "rate",
                   "waived", "waived_share", "compared", "as_agreed", "as_agreed_share")
AGREED_METHOD = "agreed method"   # the rates table's column for the board paper's primary concern


def obligations(canonical: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """Every obligation of every victim (owning department, rule, status, channel_as_agreed), as
    of `as_of`, by the engine."""
    from vcpipeline.rules.engine import evaluate
    from vcpipeline.rules.prepare import prepare
    from vcpipeline.rules.ruleset import load_rulesets

    events = canonical["events"]
    if "source_modified_at" in events.columns:
        # The engine keeps the last row of an event_id: put each event's latest extract last.
        order = parse_instants(events["source_modified_at"]).sort_values(kind="stable", na_position="first")
        events = events.loc[order.index]
    prepared = prepare({"crimes": canonical["crimes"], "victims": canonical["victims"], "events": events}, as_of)
    table = evaluate(prepared.crimes, prepared.victims, prepared.events, as_of, load_rulesets())
    table = table[table["owner"].isin(list(DEPARTMENTS))]
    return pd.DataFrame({"department": table["owner"].astype("string").to_numpy(),
                         "rule": table["rule"].astype("string").to_numpy(),
                         "status": table["status"].astype("string").to_numpy(),
                         "channel_as_agreed": table["channel_as_agreed"].astype("boolean").to_numpy()})


def measured_rates(canonical: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """Per owning department and rule: obligations; decided (MET, MET_LATE or BREACHED) and met on
    time (MET), their rate; WAIVED and their share of all; met obligations whose channel is
    compared with the victim's agreed method, those by it, and that share (RULES.md v2)."""
    table = obligations(canonical, as_of)
    status = table["status"]
    table["decided"] = status.isin(["MET", "MET_LATE", "BREACHED"])
    table["met_on_time"] = status == "MET"
    table["waived"] = status == "WAIVED"
    table["compared"] = table["channel_as_agreed"].notna()
    table["as_agreed"] = table["channel_as_agreed"].fillna(False)
    grouped = table.groupby(["department", "rule"], sort=True).agg(
        obligations=("rule", "size"), decided=("decided", "sum"), met_on_time=("met_on_time", "sum"),
        waived=("waived", "sum"), compared=("compared", "sum"), as_agreed=("as_agreed", "sum"))
    grouped = grouped.reset_index()
    grouped["rate"] = _share(grouped["met_on_time"], grouped["decided"])
    grouped["waived_share"] = _share(grouped["waived"], grouped["obligations"])
    grouped["as_agreed_share"] = _share(grouped["as_agreed"], grouped["compared"])
    return grouped[list(SUMMARY_COLUMNS)]


def _share(part: pd.Series, whole: pd.Series) -> pd.Series:
    return (part / whole.where(whole > 0)).astype("float64").round(4)


def rates_table(rates: pd.DataFrame, rules: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Owning departments × rules, on-time rates as percentages, then the share of obligations
    WAIVED and the share of met informing obligations by the victim's agreed method: what
    `vcp generate --summary` prints."""
    from vcpipeline.rules.ruleset import load_rulesets

    rules = rules or load_rulesets().rule_names()
    wide = rates.pivot_table(index="department", columns="rule", values="rate", aggfunc="first")
    wide = wide.reindex(columns=list(rules))
    totals = rates.groupby("department")[["obligations", "waived", "compared", "as_agreed"]].sum()
    wide["waived"] = _share(totals["waived"], totals["obligations"])
    wide[AGREED_METHOD] = _share(totals["as_agreed"], totals["compared"])
    return (wide * 100).round(1)


def force_figures(rates: pd.DataFrame) -> dict[str, float]:
    """Force-wide shares (%): obligations WAIVED, and met informing obligations by the agreed method."""
    totals = rates[["obligations", "waived", "compared", "as_agreed"]].sum()
    return {"waived": round(100 * totals["waived"] / max(totals["obligations"], 1), 1),
            AGREED_METHOD: round(100 * totals["as_agreed"] / max(totals["compared"], 1), 1)}


def canonical_rows(native: Mapping[str, Mapping[str, pd.DataFrame]], configs) -> dict[str, pd.DataFrame]:
    """The generated native frames run through the real adapters, as they would be read back."""
    from vcpipeline.sources import combine_canonical, to_canonical
    from vcpipeline.sources.native_frames import native_strings

    parts = []
    for config in configs:
        if config.name in native:
            tables = {name: native_strings(frame) for name, frame in native[config.name].items()}
            parts.append(to_canonical(tables, config))
    return combine_canonical(parts)
