"""Partitioned evaluation: P partitions by CRC-32 of `crime_ref` give exactly what one does, night
after night with late and corrected rows, and a partition killed midway leaves nothing behind."""

from __future__ import annotations

import zlib
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.rules import store
from vcpipeline.rules.partitions import configured_partitions, crc32_utf8, partition_of
from vcpipeline.rules.ruleset import load_rulesets
from vcpipeline.rules.store import NightPlan, refresh_obligations
from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.migrate import upgrade

from .conftest import load_night, night_as_of, simulate_force, stored, table_rows

NIGHTS = 8
BOOKKEEPING = {  # table: the columns that must agree (not the run's clock times)
    "obligation_changes": ["crime_ref"], "obligation_changed_days": ["due_at"],
    "obligation_batches": ["batch_id"], "evaluated_events": ["event_id", "crime_ref"],
    "obligation_runs": ["as_of", "mode", "rulesets_sha256", "batches", "crimes_reevaluated",
                        "obligations_replaced", "obligations_written", "statuses_advanced",
                        "obligations_total"],
}
RUN_KEYS = ("mode", "full_reason", "batches", "crimes_reevaluated", "obligations_evaluated",
            "obligations_replaced", "obligations_written", "statuses_advanced",
            "obligations_total", "evaluated_by_status")


def bookkeeping(engine) -> dict[str, pd.DataFrame]:
    out = {}
    for table, columns in BOOKKEEPING.items():
        frame = table_rows(engine, table)
        frame = frame.loc[:, columns] if len(frame) else pd.DataFrame(columns=columns)
        for column in {"due_at", "as_of"} & set(columns):  # SQLite reads text, PostgreSQL instants
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        frame = frame.astype(str)
        out[table] = frame.sort_values(columns).reset_index(drop=True)
    return out


@pytest.fixture
def single(tmp_path):
    """A second SQLite warehouse evaluated with one partition: the reference."""
    url = f"sqlite:///{tmp_path / 'one-partition.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_the_partition_of_a_crime_is_crc32_of_its_utf8_reference_modulo_p():
    refs = ["CR001", "", "WMP/26/000123", "é☃-Ω", "x" * 70, None]
    expected = [zlib.crc32((ref or "").encode()) for ref in refs]
    assert crc32_utf8(pd.Series(refs, dtype="string")).tolist() == expected
    assert crc32_utf8(np.array(refs, dtype=object)).tolist() == expected
    assert partition_of(["CR001", "CR002", "CR003"], 7).tolist() == [
        zlib.crc32(b"CR001") % 7, zlib.crc32(b"CR002") % 7, zlib.crc32(b"CR003") % 7]
    # Pinned: a change of hash would move every crime to another partition between nights.
    assert partition_of(["CR001", "CR002", "CR003", "CR004"], 16).tolist() == [4, 14, 8, 11]
    with pytest.raises(ValueError, match="at least 1"):
        partition_of(["CR001"], 0)


def test_p_is_one_on_sqlite_and_more_on_postgresql_unless_configured(monkeypatch):
    monkeypatch.delenv("VCP_PARTITIONS", raising=False)
    assert configured_partitions("sqlite") == 1
    assert configured_partitions("postgresql") == 4
    monkeypatch.setenv("VCP_PARTITIONS", "7")
    assert configured_partitions("sqlite") == 7
    monkeypatch.setenv("VCP_PARTITIONS", "0")
    with pytest.raises(ValueError, match="VCP_PARTITIONS must be a whole number of at least 1"):
        configured_partitions("sqlite")


@pytest.mark.parametrize("partitions", [2, 3, 7, 16])
@pytest.mark.parametrize("seed", [5, 23])
def test_partitioned_nights_equal_one_partition_for_every_p(engine, single, seed, partitions):
    """Over nights with late, early and corrected rows (events moved to other crimes included),
    a full first night, a backfill and a rule-set change: the same obligations, bookkeeping and
    run record as one partition."""
    force = simulate_force(seed, nights=NIGHTS, n_crimes=60, choices=seed % 2 == 1)
    rulesets = load_rulesets()
    other_rules = replace(rulesets, enhanced_offence_categories=frozenset())
    for night in range(NIGHTS):
        load_night(engine, force, night)
        load_night(single, force, night)
        as_of = night_as_of(night if night != 5 else 3)  # night 5 goes back in time: full again
        rules = other_rules if night == 6 else rulesets  # nights 6 and 7: full, rules changed
        many = refresh_obligations(engine, as_of, rules, partitions=partitions)
        one = refresh_obligations(single, as_of, rules, partitions=1)
        assert many["partitions"] == partitions and one["partitions"] == 1
        assert {k: many[k] for k in RUN_KEYS} == {k: one[k] for k in RUN_KEYS}, f"night {night}"
        assert stored(engine).equals(stored(single)), f"night {night}"
        assert many["obligations_total"] == len(stored(engine)), "the kept count is the table's"
        for table, frame in bookkeeping(single).items():
            pd.testing.assert_frame_equal(bookkeeping(engine)[table], frame, obj=f"{table}, night {night}")
    assert len(stored(engine)) > 100


def _plan(engine, night: int, partitions: int) -> NightPlan:
    return store.plan_obligations(engine, night_as_of(night), partitions=partitions)


@pytest.mark.parametrize("night", [0, 4], ids=["full-first-night", "incremental-night"])
def test_a_partition_killed_midway_leaves_the_warehouse_as_it_was_and_its_retry_completes_it(
    engine, single, monkeypatch, night
):
    force = simulate_force(7, nights=night + 1, n_crimes=80)
    for n in range(night + 1):
        load_night(engine, force, n)
        load_night(single, force, n)
        refresh_obligations(single, night_as_of(n), partitions=1)
        if n < night:
            refresh_obligations(engine, night_as_of(n), partitions=3)

    plan = NightPlan.from_json(_plan(engine, night, 3).as_json())  # as the DAG hands it on (XCom)
    results = [store.refresh_partition(engine, plan, 0)]
    before = stored(engine), bookkeeping(engine)

    real_insert = store.insert_rows
    written = []

    def killed(conn, table, frame, order=None):  # some of the partition's rows reach the database, then it dies
        if table.name == "obligations" and len(frame) > 1:
            written.append(real_insert(conn, table, frame.iloc[: len(frame) // 2]))
            raise RuntimeError("worker killed")
        return real_insert(conn, table, frame, order=order)

    monkeypatch.setattr(store, "insert_rows", killed)
    with pytest.raises(RuntimeError, match="worker killed"):
        store.refresh_partition(engine, plan, 1)
    assert written and written[0] > 0
    after = stored(engine), bookkeeping(engine)
    assert after[0].equals(before[0]), "the killed partition's rows were rolled back"
    for table, frame in before[1].items():
        pd.testing.assert_frame_equal(after[1][table], frame)

    monkeypatch.setattr(store, "insert_rows", real_insert)
    results += [store.refresh_partition(engine, plan, 1), store.refresh_partition(engine, plan, 2)]
    with pytest.raises(RuntimeError, match="partitions"):  # the finish refuses a night with a gap
        store.finish_obligations(engine, plan, results[:2])
    summary = store.finish_obligations(engine, plan, results)
    assert summary["mode"] == ("full" if night == 0 else "incremental")
    assert stored(engine).equals(stored(single))
    assert summary["obligations_total"] == len(stored(single))
    for table, frame in bookkeeping(single).items():
        pd.testing.assert_frame_equal(bookkeeping(engine)[table], frame, obj=table)

    # A partition run again after its commit (a cleared task) finds nothing to write.
    again = store.refresh_partition(engine, plan, 1)
    assert again["obligations_written"] == (again["obligations_evaluated"] if night == 0 else 0)
    assert stored(engine).equals(stored(single))
    # And the finish run again (a cleared merge) still knows the table's size.
    rerun = store.finish_obligations(engine, plan, [results[0], again, results[2]])
    assert rerun["obligations_total"] == len(stored(single))


def test_a_partition_refuses_a_plan_made_with_other_rule_sets(sqlite_engine):
    force = simulate_force(3, nights=1, n_crimes=10)
    load_night(sqlite_engine, force, 0)
    plan = _plan(sqlite_engine, 0, 2)
    rulesets = load_rulesets()
    tighter = replace(rulesets, enhanced_offence_categories=frozenset())
    with pytest.raises(RuntimeError, match="rule sets changed"):
        store.refresh_partition(sqlite_engine, plan, 0, tighter)
    with pytest.raises(ValueError, match="partition 2"):
        store.refresh_partition(sqlite_engine, plan, 2)
    with sqlite_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM obligations")).scalar_one() == 0
