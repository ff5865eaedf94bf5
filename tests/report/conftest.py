"""A small warehouse for the report: a synthetic force over a year, through the real pipeline.

The synthetic force (600 crimes reported 2025-04-01 … 2026-03-31, extract 2026-04-14) goes
through the real adapters, the real data rules and rule engine; its canonical rows are loaded
in quarterly batches per source system (with the rows the data rules quarantined), then the
obligations are evaluated into the warehouse and the summaries loaded, as the nightly run does.
Built once per session per backend: every test only reads it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.calendar import local_dates

PERIOD_START = date(2025, 4, 1)
QUARTERS = ("2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2")


@dataclass(frozen=True)
class Force:
    canonical: dict[str, pd.DataFrame]
    as_of: pd.Timestamp


@pytest.fixture(scope="session")
def synthetic_force() -> Force:
    return make_force()


def make_force(crimes: int = 600) -> Force:
    """A year of a small synthetic force, as canonical rows."""
    from vcpipeline.sources.config import load_source_config
    from vcpipeline.synth.force import ForceSpec, generate_force
    from vcpipeline.synth.summary import canonical_rows

    configs = load_source_config()
    spec = ForceSpec(crimes=crimes, start=PERIOD_START, days=365, seed=7)
    canonical = canonical_rows(generate_force(spec, configs).native, configs)
    return Force({**canonical, "events": with_victim_choices(canonical)}, spec.extracted_at)


def with_victim_choices(canonical: dict[str, pd.DataFrame], every: int = 20) -> pd.DataFrame:
    """The events plus, whatever the generator makes, a known share of the victim's choices
    (RULES.md v2): every `every`-th victim opts out an hour after the report (their later updates
    are WAIVED), and the victim after each agrees to be phoned half an hour after it (so their
    updates are compared with the agreed method)."""
    events = canonical["events"]
    victims = canonical["victims"].merge(canonical["crimes"][["crime_ref", "reported_at"]], on="crime_ref")
    victims = victims.sort_values(["crime_ref", "victim_id"], ignore_index=True)
    reported = pd.to_datetime(victims["reported_at"], utc=True, format="ISO8601")
    added = []
    for kind, offset, minutes in (("OPTED_OUT", 0, 60), ("CONTACT_AGREED", 1, 30)):
        chosen = victims.iloc[offset::every]
        at = (reported.iloc[offset::every] + pd.Timedelta(minutes=minutes)).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        numbers = [f"{kind[:3]}{i:05d}" for i in range(len(chosen))]
        added.append(pd.DataFrame({
            "event_id": [f"TST-{n}" for n in numbers], "crime_ref": chosen["crime_ref"].to_numpy(),
            "victim_id": chosen["victim_id"].to_numpy(), "event_type": kind, "occurred_at": at.to_numpy(),
            "channel": "phone" if kind == "CONTACT_AGREED" else "", "interval_days": "0" if kind == "CONTACT_AGREED" else "",
            "source_system": "VCL", "source_row_id": numbers, "source_modified_at": at.to_numpy(),
        }))
    extra = pd.concat(added, ignore_index=True).reindex(columns=events.columns, fill_value="")
    return pd.concat([events, extra.astype(events.dtypes.to_dict())], ignore_index=True)


def _quarter_of(instants: pd.Series) -> np.ndarray:
    days = local_dates(instants.fillna(pd.Timestamp("2026-04-01", tz="UTC")))
    months = days.astype("datetime64[M]").astype(np.int64)
    return np.char.add(np.char.add((months // 12 + 1970).astype(str), "Q"), (months % 12 // 3 + 1).astype(str))


def _quarter_bounds(quarter: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    from vcpipeline.sampling.selection import quarter_bounds

    return quarter_bounds(quarter)


def load_force(url: str, force: Force, workdir: Path) -> None:
    """Migrate, load the canonical rows in quarterly batches per source, evaluate, summarise,
    and run the dip-sample survey of SURVEYED quarters (worksheets under `workdir`)."""
    from vcpipeline.rules.prepare import prepare
    from vcpipeline.warehouse import load
    from vcpipeline.warehouse.db import make_engine
    from vcpipeline.warehouse.migrate import upgrade

    upgrade(url)
    prepared = prepare(force.canonical, force.as_of)
    crimes = prepared.crimes.assign(extracted_at=force.as_of)
    victims = prepared.victims.merge(crimes[["crime_ref", "reported_at"]], on="crime_ref").assign(
        extracted_at=force.as_of)
    events = prepared.events.assign(extracted_at=force.as_of)
    crimes["quarter"] = _quarter_of(crimes["reported_at"])
    victims["quarter"] = _quarter_of(victims["reported_at"])
    events["quarter"] = _quarter_of(events["occurred_at"])
    bad = prepared.quarantine.copy()
    bad["entity"] = bad["file"].str.removesuffix(".csv")
    stamps = pd.to_datetime(bad["occurred_at"].where(bad["entity"] == "events", bad["reported_at"]),
                            utc=True, errors="coerce", format="ISO8601")
    bad["quarter"] = _quarter_of(stamps)
    sources = sorted(set(crimes["source_system"]) | set(events["source_system"]))
    engine = make_engine(url)
    try:
        for source in sources:
            for quarter in QUARTERS:
                start, end = _quarter_bounds(quarter)
                pick = {name: frame[(frame["source_system"] == source) & (frame["quarter"] == quarter)]
                        for name, frame in (("crimes", crimes), ("victims", victims), ("events", events),
                                            ("bad", bad))}

                def write(conn: sa.Connection, batch_id: str, pick=pick, source=source) -> load.BatchCounts:
                    loaded = (load.upsert_crimes(conn, pick["crimes"], batch_id)
                              + load.upsert_victims(conn, pick["victims"], batch_id)
                              + load.upsert_events(conn, pick["events"], batch_id))
                    quarantined = 0
                    for entity, rows in pick["bad"].groupby("entity"):
                        quarantined += load.quarantine_rows(
                            conn, batch_id, source, str(entity),
                            pd.DataFrame({"source_row_id": rows["source_row_id"].fillna("?").astype(str),
                                          "reasons": rows["reason"].astype(str)}))
                    return load.BatchCounts(loaded + quarantined, loaded, quarantined)

                load.run_batch(engine, source, start.to_pydatetime(), end.to_pydatetime(), write)
    finally:
        engine.dispose()
    evaluate_and_summarise(url, force.as_of)
    for quarter in SURVEYED:
        run_survey(url, quarter, workdir)


SURVEYED = ("2025Q4", "2026Q1")  # 2026Q1's previous quarter is surveyed too: changes, significance


def run_survey(url: str, quarter: str, workdir: Path) -> None:
    """The quarter's dip sample, worksheets, simulated reviewer returns and published results."""
    from vcpipeline.sampling.results import publish_survey_results
    from vcpipeline.sampling.reviews import ingest_returns
    from vcpipeline.sampling.simulate import simulate_returns
    from vcpipeline.sampling.store import draw_and_store_sample, sample_id_for
    from vcpipeline.sampling.worksheets import write_worksheets
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(url)
    try:
        draw_and_store_sample(engine, quarter, size=60, minimum=3, reserve_size=2)
        sheets = write_worksheets(engine, sample_id_for(quarter), workdir / quarter / "worksheets")
        returns = simulate_returns(sheets, _folder(workdir / quarter / "returns"), seed=f"report-{quarter}")
        ingest_returns(engine, sample_id_for(quarter), returns)
        publish_survey_results(engine, quarter)
    finally:
        engine.dispose()


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def evaluate_and_summarise(url: str, as_of: pd.Timestamp) -> None:
    """The nightly run's rule and summary steps over the loaded warehouse."""
    from vcpipeline.tasks import nightly

    nightly.evaluate_obligations(as_of.to_pydatetime(), url)
    nightly.load_summaries(as_of.to_pydatetime(), url)


@pytest.fixture(scope="session")
def sqlite_warehouse(tmp_path_factory: pytest.TempPathFactory, synthetic_force: Force) -> str:
    """The synthetic force's warehouse on SQLite (read-only): for tests of one backend only."""
    workdir = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{workdir / 'warehouse.db'}"
    load_force(url, synthetic_force, workdir)
    return url


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def report_warehouse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                     synthetic_force: Force) -> Iterator[str]:
    """A warehouse URL holding the synthetic force, evaluated and summarised, on each backend (read-only)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_warehouse")
        return
    base = os.environ.get("VCP_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PostgreSQL report tests skipped: set VCP_TEST_POSTGRES_URL="
                    "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"vcp_report_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        load_force(url, synthetic_force, tmp_path_factory.mktemp("report-pg"))
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary, or skip with how to get it."""
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    message = "Chromium not installed: `apt-get install -y chromium` (CI installs it)"
    if os.environ.get("VCP_REQUIRE_CHROMIUM"):
        pytest.fail(message)  # CI must render the report for real, never skip it
    pytest.skip(message)


class PageParser(HTMLParser):
    """What the tests look at in a report page: figures, headings, tables, charts, references."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: dict[str, str] = {}
        self.headings: list[int] = []
        self.tables: list[dict] = []
        self.header_cells: list[dict] = []
        self.svgs: list[dict] = []
        self.ids: set[str] = set()
        self.tags: list[str] = []
        self.references: list[str] = []
        self.styles: list[str] = []
        self._in_style = False
        self._svg: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        self.tags.append(tag)
        if "id" in found:
            self.ids.add(found["id"])
        if "data-figure" in found:
            key, value = found["data-figure"], found.get("data-value", "")
            # A figure may be shown twice (headline and table), never with two values.
            assert self.figures.get(key, value) == value, f"figure {key} shown with two values"
            self.figures[key] = value
        if len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self.headings.append(int(tag[1]))
        if tag == "table":
            self.tables.append({"id": found.get("id"), "caption": False})
        if tag == "caption" and self.tables:
            self.tables[-1]["caption"] = True
        if tag == "th":
            self.header_cells.append(found)
        if tag == "svg":
            self._svg = {**found, "title": None, "desc": None}
            self.svgs.append(self._svg)
        if tag in ("title", "desc") and self._svg is not None and self._svg[tag] is None:
            self._svg[tag] = found.get("id", "")
        for key in ("src", "href", "data", "poster", "srcset"):
            if key in found:
                self.references.append(found[key])
        if "style" in found:
            self.styles.append(found["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg = None
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def parse_page(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out" / "report"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="session")
def page_parser():
    """`parse_page(html) -> PageParser` for test modules (conftest is not importable from them)."""
    return parse_page
