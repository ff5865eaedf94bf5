"""Builders for small forces written as rows of text, the way the canonical CSVs hold them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from vcpipeline.canonical import CRIME_COLUMNS, EVENT_COLUMNS, VICTIM_COLUMNS
from vcpipeline.parsing import parse_instants
from vcpipeline.rules.engine import evaluate, sort_obligations
from vcpipeline.rules.prepare import Prepared, prepare
from vcpipeline.rules.ruleset import load_rulesets

# RULES.md's worked examples, read where the shared contract keeps them (never copied here).
EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "domain" / "examples"

CRIME_DEFAULTS = {"crime_ref": "C1", "reported_at": "2026-03-02T09:30:00Z", "department": "IIT",
                  "offence_category": "theft", "domestic_abuse": "false", "hate_crime": "false"}
VICTIM_DEFAULTS = {"crime_ref": "C1", "victim_id": "V1", "age_at_report": "35", "vulnerable": "false",
                   "intimidated": "false", "persistently_targeted": "false"}
EVENT_DEFAULTS = {"event_id": "", "crime_ref": "C1", "victim_id": "", "event_type": "", "occurred_at": "",
                  "in_need": "", "outcome_code": "", "court_result": "", "channel": ""}


def crime(**fields: str) -> dict[str, str]:
    return {**CRIME_DEFAULTS, **fields}


def victim(**fields: str) -> dict[str, str]:
    return {**VICTIM_DEFAULTS, **fields}


def event(event_id: str, event_type: str, occurred_at: str, **fields: str) -> dict[str, str]:
    return {**EVENT_DEFAULTS, "event_id": event_id, "event_type": event_type,
            "occurred_at": occurred_at, **fields}


def raw_frames(crimes: Iterable[dict], victims: Iterable[dict], events: Iterable[dict]) -> dict[str, pd.DataFrame]:
    """What `read_canonical_folder` returns for these rows."""
    def frame(rows: Iterable[dict], columns: tuple[str, ...]) -> pd.DataFrame:
        rows = list(rows)
        extra = [c for r in rows for c in r if c not in columns]
        return pd.DataFrame(rows, columns=[*columns, *dict.fromkeys(extra)], dtype="string").fillna("")

    return {"crimes": frame(crimes, CRIME_COLUMNS), "victims": frame(victims, VICTIM_COLUMNS),
            "events": frame(events, EVENT_COLUMNS)}


def instant(text: str) -> pd.Timestamp:
    return parse_instants(pd.Series([text], dtype="string")).iloc[0]


def prepared(crimes=(), victims=(), events=(), as_of: str = "2026-03-31T12:00:00Z") -> Prepared:
    return prepare(raw_frames(crimes or [crime()], victims or [victim()], events), instant(as_of))


def obligations(crimes=(), victims=(), events=(), as_of: str = "2026-03-31T12:00:00Z",
                rulesets: Path | None = None) -> pd.DataFrame:
    """prepare + evaluate, in the contract order, index reset."""
    ready = prepared(crimes, victims, events, as_of)
    found = evaluate(ready.crimes, ready.victims, ready.events, instant(as_of), load_rulesets(rulesets))
    return sort_obligations(found).reset_index(drop=True)


def utc(values: pd.Series) -> list[str | None]:
    """Instants as the contract's text, None for missing: easy to compare in asserts."""
    return [None if pd.isna(v) else v.strftime("%Y-%m-%dT%H:%M:%SZ") for v in values]


def one(frame: pd.DataFrame, **where: str) -> pd.Series:
    """The single obligation matching `where` (column=value)."""
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column].astype("string") == value
    assert mask.sum() == 1, f"expected one obligation for {where}, found {int(mask.sum())}:\n{frame}"
    return frame[mask].iloc[0]


@pytest.fixture
def write_folder(tmp_path: Path) -> Callable[..., Path]:
    """Writes rows as a canonical folder and returns it."""
    def write(crimes=(), victims=(), events=()) -> Path:
        folder = tmp_path / "canonical"
        folder.mkdir(exist_ok=True)
        for name, frame in raw_frames(crimes or [crime()], victims or [victim()], events).items():
            frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
        return folder
    return write


@pytest.fixture(scope="session")
def vc() -> SimpleNamespace:
    """The builders above, for tests (the import mode keeps test modules from importing them)."""
    return SimpleNamespace(
        crime=crime, victim=victim, event=event, raw_frames=raw_frames, instant=instant,
        prepared=prepared, obligations=obligations, utc=utc, one=one, examples=EXAMPLES,
    )
