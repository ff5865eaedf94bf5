"""What the generated force really holds: on-time rates per department and rule, measured.

`vcp generate --summary` proves the calibration by measuring the rows it wrote: they go through
the real adapters and the real rule engine (`vcpipeline.rules`), as of the extract, exactly as
the pipeline would see them, rather than echoing the generator's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from vcpipeline.canonical import DEPARTMENTS
from vcpipeline.parsing import parse_instants

RULES: tuple[str, ...] = (
    "acknowledgement", "needs_referral", "investigation_update", "outcome_notification",
    "vps_offer", "vps_feedback",
)
SUMMARY_COLUMNS = ("department", "rule", "obligations", "decided", "met_on_time", "rate")


def obligations(canonical: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """Every obligation of every victim (department, rule, due, met), as of `as_of`, by the engine."""
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
    table = table[table["department"].isin(list(DEPARTMENTS))]
    return pd.DataFrame({"department": table["department"].astype("string").to_numpy(),
                         "rule": table["rule"].astype("string").to_numpy(),
                         "due": table["due_at"].to_numpy(), "met": table["met_at"].to_numpy()})


def measured_rates(canonical: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """Per department and rule: obligations, those decided by `as_of`, met on time, and the rate.

    Decided = met, or past its deadline; rate = met on time / decided.
    """
    table = obligations(canonical, as_of)
    table["decided"] = table["met"].notna() | (table["due"] <= as_of)
    table["met_on_time"] = table["met"].notna() & (table["met"] < table["due"])
    grouped = table.groupby(["department", "rule"], sort=True).agg(
        obligations=("rule", "size"), decided=("decided", "sum"), met_on_time=("met_on_time", "sum"))
    grouped = grouped.reset_index()
    grouped["rate"] = (grouped["met_on_time"] / grouped["decided"].where(grouped["decided"] > 0)).round(4)
    return grouped[list(SUMMARY_COLUMNS)]


def rates_table(rates: pd.DataFrame) -> pd.DataFrame:
    """Departments × rules, rates as percentages: what `vcp generate --summary` prints."""
    wide = rates.pivot_table(index="department", columns="rule", values="rate", aggfunc="first")
    wide = wide.reindex(columns=list(RULES))
    return (wide * 100).round(1)


def canonical_rows(native: Mapping[str, Mapping[str, pd.DataFrame]], configs) -> dict[str, pd.DataFrame]:
    """The generated native frames run through the real adapters, as they would be read back."""
    from vcpipeline.sources import combine_canonical, to_canonical
    from vcpipeline.sources.readers import native_strings

    parts = []
    for config in configs:
        if config.name in native:
            tables = {name: native_strings(frame) for name, frame in native[config.name].items()}
            parts.append(to_canonical(tables, config))
    return combine_canonical(parts)
