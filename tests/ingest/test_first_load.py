"""The first load of a force's history (`ingest.first_load`): chunks of source × period, each one
load batch through `run_source_batch`; skipped on a rerun once loaded; a chunk killed midway (a
real SIGKILL of the process loading it, inside its load transaction) leaves nothing and its rerun
completes the load as if nothing had happened; counts reconcile per chunk and in total."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.ingest import first_load
from vcpipeline.ingest.first_load import Chunk, period_bounds, plan_chunks
from vcpipeline.ingest.windows import nightly_intervals
from vcpipeline.sources.config import load_source_config
from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.load import ReconciliationError, table_checksums
from vcpipeline.warehouse.migrate import upgrade

from .conftest import LONDON

# The generated force (conftest.SPEC): reports from 1 July 2026 for 30 days, extract at 14 August.
FROM = datetime(2026, 7, 1, 2, tzinfo=LONDON)
TO = datetime(2026, 8, 14, 2, tzinfo=LONDON)
# The loads end with the reports: after them each week holds fewer rows, and a chunk under half
# the quietest of its source's last same-length chunks fails the volume band, as a night would.
LOADED_TO = datetime(2026, 7, 31, 2, tzinfo=LONDON)
CONTENT = ("crimes", "victims", "case_events")
LINEAGE = {"load_batch_id", "extracted_at"}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- the plan ------------------------------------------------------------------------------------

def test_months_cut_at_the_first_of_each_month_at_from_s_wall_time_across_clock_changes():
    bounds = period_bounds(datetime(2026, 2, 15, 2, tzinfo=LONDON), datetime(2026, 11, 1, 2, tzinfo=LONDON))
    local = [(a.astimezone(LONDON).strftime("%m-%d %H:%M"), b.astimezone(LONDON).strftime("%m-%d %H:%M"))
             for a, b in bounds]
    assert local[0] == ("02-15 02:00", "03-01 02:00")
    assert local[-1] == ("10-01 02:00", "11-01 02:00")
    assert len(bounds) == 9
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(bounds)), "tiles exactly"
    # 1 April 02:00 is BST (01:00 UTC); 1 March 02:00 is GMT (02:00 UTC).
    assert (utc(2026, 3, 1, 2), utc(2026, 4, 1, 1)) in bounds


def test_weeks_start_on_monday_days_are_the_nightly_intervals_and_the_last_chunk_is_cut_at_to():
    weeks = period_bounds(FROM, TO, "week")
    assert [a.astimezone(LONDON).strftime("%a %d %b") for a, _ in weeks] == [
        "Wed 01 Jul", "Mon 06 Jul", "Mon 13 Jul", "Mon 20 Jul", "Mon 27 Jul", "Mon 03 Aug", "Mon 10 Aug"]
    assert weeks[-1][1] == TO
    start, end = datetime(2026, 3, 27, 2, tzinfo=LONDON), datetime(2026, 4, 2, 2, tzinfo=LONDON)
    assert period_bounds(start, end, "day") == nightly_intervals(start, end)
    assert period_bounds(FROM, datetime(2026, 7, 1, 3, tzinfo=LONDON)) == [
        (utc(2026, 7, 1, 1), utc(2026, 7, 1, 2))]
    with pytest.raises(ValueError, match="period must be one of"):
        period_bounds(FROM, TO, "quarter")
    with pytest.raises(ValueError, match="after its start"):
        period_bounds(TO, FROM)


def test_the_crime_recording_system_s_chunks_come_first_each_source_in_period_order(configs):
    chunks = plan_chunks(configs, FROM, TO, "month")
    assert [(c.source, c.label.split()[1]) for c in chunks] == [
        (source, period) for source in ("crime_recording", "victim_contact", "victim_support", "witness_care")
        for period in ("2026-07-01..2026-08-01", "2026-08-01..2026-08-14")]
    assert chunks[0].batch_id == "CRS:20260701T010000Z-20260801T010000Z"
    assert Chunk.from_json(json.loads(json.dumps(chunks[3].as_json()))) == chunks[3]
    assert [c.source for c in plan_chunks(configs, FROM, TO, "month", ["witness_care"])] == ["witness_care"] * 2
    with pytest.raises(ValueError, match="unknown source"):
        plan_chunks(configs, FROM, TO, "month", ["crime_records"])


# --- loading, resuming, reconciling --------------------------------------------------------------

def _crime_chunks(configs) -> list[Chunk]:
    return plan_chunks(configs, FROM, LOADED_TO, "week", ["crime_recording"])


def _content(url: str) -> dict[str, pd.DataFrame]:
    """The canonical tables without lineage (which batch wrote a row, and its extract time)."""
    from vcpipeline.warehouse import schema
    from vcpipeline.warehouse.frames import read_frame

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            out = {}
            for name in CONTENT:
                table = getattr(schema, name)
                columns = [c for c in table.columns if c.name not in LINEAGE]
                key = [c.name for c in table.primary_key.columns]
                out[name] = read_frame(conn, sa.select(*columns)).sort_values(key).reset_index(drop=True)
            return out
    finally:
        engine.dispose()


def _checksums(url: str) -> dict[str, str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return table_checksums(conn)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def reference(generated, tmp_path_factory) -> dict:
    """The crime recording system's history loaded week by week, undisturbed, into SQLite."""
    root = generated[0]
    configs = load_source_config(var=root)
    url = f"sqlite:///{tmp_path_factory.mktemp('first-load-reference') / 'warehouse.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        results = first_load.run_first_load(configs, _crime_chunks(configs), engine)
        totals = first_load.reconcile(engine, _crime_chunks(configs))
    finally:
        engine.dispose()
    return {"url": url, "results": results, "totals": totals, "content": _content(url),
            "checksums": _checksums(url)}


def test_each_chunk_is_one_batch_and_a_rerun_skips_every_loaded_chunk(reference, generated):
    results, totals = reference["results"], reference["totals"]
    assert [r.status for r in results] == ["loaded"] * 5
    assert [r.extract for r in results] == ["full"] + ["incremental"] * 4
    assert all(r.rows_extracted == r.rows_loaded + r.rows_quarantined for r in results)
    assert totals["chunks"] == 5
    assert totals["rows_extracted"] == totals["rows_loaded"] + totals["rows_quarantined"] > 5_000
    assert totals["rows_quarantined"] > 0
    assert totals["by_source"]["crime_recording"]["chunks"] == 5

    configs = load_source_config(var=generated[0])
    engine = make_engine(reference["url"])
    try:
        again = first_load.run_first_load(configs, _crime_chunks(configs), engine)
        assert first_load.reconcile(engine, _crime_chunks(configs)) == totals
    finally:
        engine.dispose()
    assert [r.status for r in again] == ["skipped"] * 5
    # A skipped chunk reports its batch as stored (a later chunk's replay may have moved rows of
    # it from quarantined to loaded), so the rows extracted are the first run's.
    assert [r.rows_extracted for r in again] == [r.rows_extracted for r in results]
    assert _checksums(reference["url"]) == reference["checksums"], "a rerun writes nothing"


def test_reconcile_names_a_chunk_not_loaded(reference, generated):
    configs = load_source_config(var=generated[0])
    later = plan_chunks(configs, LOADED_TO, TO, "week", ["crime_recording"])
    engine = make_engine(reference["url"])
    try:
        with pytest.raises(ReconciliationError, match=r"crime_recording 2026-07-31\.\.2026-08-03: not loaded"):
            first_load.reconcile(engine, [*_crime_chunks(configs), *later])
    finally:
        engine.dispose()


CHILD = r"""
import json, sys, time
from pathlib import Path
from vcpipeline.ingest import batches, first_load
from vcpipeline.sources.config import load_source_config
from vcpipeline.warehouse.db import make_engine

root, url, chunk, marker = sys.argv[1:5]
configs = load_source_config(var=Path(root))
chunk = first_load.Chunk.from_json(json.loads(chunk))
write = batches.upsert

def write_then_hang(conn, kind, frame, batch_id):
    written = write(conn, kind, frame, batch_id)
    if kind == "victims":  # crimes and victims written, not committed: now the process is killed
        Path(marker).write_text(str(written))
        time.sleep(600)
    return written

batches.upsert = write_then_hang
config = next(c for c in configs if c.name == chunk.source)
first_load.load_chunk(chunk, config, make_engine(url), configs=configs)
"""


def _kill_midway(root: Path, url: str, chunk: Chunk, tmp_path: Path) -> int:
    """Load `chunk` in a child process and SIGKILL it inside its load transaction; the rows it
    had written when killed."""
    marker = tmp_path / "inside-the-transaction"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(root), url, json.dumps(chunk.as_json()),
                              str(marker)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not marker.exists():
        if child.poll() is not None:
            pytest.fail(f"the chunk's process ended before it was killed: {child.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail("the chunk's process never reached its load transaction")
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL
    return int(marker.read_text())


@pytest.mark.slow
def test_a_chunk_killed_midway_leaves_no_batch_and_the_rerun_completes_the_same_load(
    reference, force_root, configs, warehouse_url, tmp_path
):
    upgrade(warehouse_url)
    chunks = _crime_chunks(configs)
    engine = make_engine(warehouse_url)
    try:
        first_load.run_first_load(configs, chunks[:3], engine)
        before = _content(warehouse_url)
        written = _kill_midway(force_root, warehouse_url, chunks[3], tmp_path)
        assert written > 0, "the chunk had written rows when it was killed"

        # Nothing of the killed chunk is there: no batch row, no rows, the watermark where it was.
        with engine.connect() as conn:
            assert first_load.succeeded_batch(conn, chunks[3]) is None
            assert conn.execute(sa.text("SELECT count(*) FROM load_batches WHERE batch_id = :b"),
                                {"b": chunks[3].batch_id}).scalar_one() == 0
        for name, frame in _content(warehouse_url).items():
            pd.testing.assert_frame_equal(frame, before[name], check_dtype=False, obj=name)
        with pytest.raises(ReconciliationError, match="not loaded"):
            first_load.reconcile(engine, chunks)

        # The rerun skips the three loaded chunks, loads the killed one whole, then the rest.
        resumed = first_load.run_first_load(configs, chunks, engine)
        assert [r.status for r in resumed] == ["skipped"] * 3 + ["loaded"] * 2
        assert first_load.reconcile(engine, chunks) == reference["totals"]
    finally:
        engine.dispose()
    if warehouse_url.startswith("sqlite"):  # same backend as the reference: every table, byte for byte
        assert _checksums(warehouse_url) == reference["checksums"]
    for name, frame in _content(warehouse_url).items():
        pd.testing.assert_frame_equal(frame, reference["content"][name], check_dtype=False, obj=name)


@pytest.mark.slow
def test_a_failed_chunk_does_not_stop_the_next_ones_and_its_retry_gives_the_same_warehouse(
    reference, force_root, configs, warehouse_url, monkeypatch
):
    """Airflow runs the next mapped chunk while a failed one waits for its retry: the watermark
    stays at the last load, so the next chunk's window reaches back over the failed one's."""
    from vcpipeline.ingest import batches

    upgrade(warehouse_url)
    chunks = _crime_chunks(configs)
    write = batches.upsert

    def fail_at_the_write(conn, kind, frame, batch_id):
        if batch_id == chunks[2].batch_id and kind == "victims":
            raise OSError("connection lost")
        return write(conn, kind, frame, batch_id)

    engine = make_engine(warehouse_url)
    try:
        monkeypatch.setattr(batches, "upsert", fail_at_the_write)
        first_load.run_first_load(configs, chunks[:2], engine)
        with pytest.raises(OSError, match="connection lost"):
            first_load.run_first_load(configs, chunks[2:3], engine)
        later = first_load.run_first_load(configs, chunks[3:], engine)
        assert later[0].rows_extracted > reference["results"][3].rows_extracted, "reached back"
        monkeypatch.setattr(batches, "upsert", write)
        retried = first_load.run_first_load(configs, chunks, engine)
        assert [r.status for r in retried] == ["skipped"] * 2 + ["loaded"] + ["skipped"] * 2
        totals = first_load.reconcile(engine, chunks)
    finally:
        engine.dispose()
    assert totals["rows_extracted"] == totals["rows_loaded"] + totals["rows_quarantined"]
    for name, frame in _content(warehouse_url).items():
        pd.testing.assert_frame_equal(frame, reference["content"][name], check_dtype=False, obj=name)


def test_vcp_first_load_lists_its_chunks_and_refuses_a_backward_range(capsys):
    from vcpipeline.cli import main as vcp

    assert vcp(["first-load", "--from", "2026-07-01T02:00", "--to", "2026-07-31T02:00",
                "--period", "week", "--plan"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("crime_recording 2026-07-01..2026-07-06")
    assert lines[0].endswith("batch CRS:20260701T010000Z-20260706T010000Z")
    assert lines[-1] == "20 chunk(s)"
    assert vcp(["first-load", "--from", "2026-07-31T02:00", "--to", "2026-07-01T02:00"]) == 2
    assert "--to must be after --from" in capsys.readouterr().err
