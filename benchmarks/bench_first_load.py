"""Benchmark a force's first load (`vcpipeline.ingest.first_load`) at 5M crimes' worth of rows.

    # 1. the sources, streamed month by month (not `vcp generate`: it holds every frame in memory)
    .venv/bin/python benchmarks/bench_first_load.py generate --work DIR --crimes 5000000 \
        --first-month 2021-04 --months 60 [--others-last-months 6]
    # 2. a first load, each chunk in a child process as a mapped Airflow task runs it
    .venv/bin/python benchmarks/bench_first_load.py load --work DIR --url URL \
        --source crime_recording [--from 2021-04-01T02:00 --to 2026-04-01T02:00] [--period month] \
        [--kill-chunk 30] [--out chunks.jsonl]
    .venv/bin/python benchmarks/bench_first_load.py summary chunks.jsonl

**generate** writes the four systems in the shapes `sources.toml` declares under DIR (the
`{var}` of its connections): `sources/crime_recording.db` and `sources/victim_contact.db`
(SQLite), `landing/victim_support/referrals_YYYYMMDD.csv`, `landing/witness_care/wcu_*.xlsx`. Each
calendar month of reports is one `synth.generate_force` of its share of the crimes (its own seed;
its journeys run to the common extract instant, the day after the last month), its identifiers
shifted past the months before (crime numbers per division and year, victim numbers, row ids,
referral refs), appended to the databases and CSV files and forgotten: memory is one month's.
The crime recording system is written whole; the other three (whose rows are ~70% of the total
and whose XLSX alone would take hours to write and read here) only for rows modified in the last
`--others-last-months` months (and their look-back), enough to load those months as the tail of
a first load over a warehouse that already holds every crime. The source tables get the indexes
a source system has (modified_at, crime number).

**load** plans the chunks of `[from, to)` (default: the generated months) and loads them in
order, each in a child process (`load_chunk`: skipped if its batch succeeded, else one batch
through `run_source_batch`). Per chunk: rows, wall time, the child's CPU (user + system), the
CPU of the PostgreSQL backends it used, its peak RSS (`os.wait4`), the time in each stage of the
batch, the load average. `--kill-chunk K` SIGKILLs the K-th chunk's process `--kill-after` seconds (3) into
its load transaction and then runs it again: nothing of it may remain, and the rerun must reconcile. At
the end every chunk's counts are reconciled (`first_load.reconcile`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

LONDON = ZoneInfo("Europe/London")
TAIL_DAYS = 1
STAGES = ("plan_batch", "warehouse_reported_at", "warehouse_victims", "read_native",
          "source_count_mismatches", "canonical_by_origin", "drop_reported_unreadable",
          "validate_source", "load_validated", "replay_quarantined")


# ----------------------------------------------------------------------------- generate

def _months(first: str, count: int) -> list[tuple[date, date]]:
    year, month = map(int, first.split("-"))
    out = []
    for _ in range(count):
        start = date(year, month, 1)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        out.append((start, date(year, month, 1)))
    return out


class Shifter:
    """Shifts one month's identifiers past every month generated before it."""

    def __init__(self) -> None:
        self.serials: dict[tuple[str, str], int] = {}
        self.offsets: dict[str, int] = {}

    def _offset(self, name: str, used: int) -> int:
        before = self.offsets.get(name, 0)
        self.offsets[name] = before + int(used)
        return before

    def crime_numbers(self, crime_no: pd.Series) -> dict[str, str]:
        parts = crime_no.astype(str).str.extract(r"^(\d{2})/(\d{6})/(\d{2})$").dropna()
        crime_no = crime_no.astype(str)[parts.index]
        keys = list(zip(parts[0], parts[2], strict=True))
        serial = parts[1].astype(int).to_numpy()
        frame = pd.DataFrame({"d": parts[0], "y": parts[2], "s": serial})
        shifted = serial + [self.serials.get(key, 0) for key in keys]
        for (d, y), top in frame.groupby(["d", "y"])["s"].max().items():
            self.serials[(d, y)] = self.serials.get((d, y), 0) + int(top)
        if shifted.max() > 999_999:
            raise ValueError("more than 999,999 crimes in one division and year")
        new = parts[0] + "/" + pd.Series(shifted, index=parts.index).astype(str).str.zfill(6) + "/" + parts[2]
        return dict(zip(crime_no, new, strict=True))

    def shift(self, native: dict[str, dict[str, pd.DataFrame]]) -> None:
        crs = native["crime_recording"]
        numbers = self.crime_numbers(crs["crimes"]["crime_no"])
        victims = self._offset("victim", crs["victims"]["victim_no"].max())

        def renumber(values: pd.Series) -> pd.Series:
            text = values.astype("string")
            return text.map(numbers).fillna(text).astype("string")

        def add(values: pd.Series, offset: int) -> pd.Series:
            return values + offset

        for table, column in (("crimes", "crime_id"), ("milestones", "milestone_id"),
                              ("finalisations", "finalisation_id")):
            crs[table][column] = add(crs[table][column], self._offset(table, crs[table][column].max()))
        for table in ("crimes", "victims", "milestones", "finalisations"):
            crs[table]["crime_no"] = renumber(crs[table]["crime_no"])
        crs["victims"]["victim_no"] = add(crs["victims"]["victim_no"], victims)
        crs["milestones"]["victim_no"] = add(crs["milestones"]["victim_no"], victims)
        contacts = native["victim_contact"]["contacts"]
        contacts["contact_id"] = add(contacts["contact_id"], self._offset("contact", contacts["contact_id"].max()))
        contacts["crime_number"] = renumber(contacts["crime_number"])
        contacts["crs_victim_no"] = add(contacts["crs_victim_no"], victims)
        referrals = native["victim_support"]["referrals"]
        ref = referrals["Referral Ref"].astype("string").str.extract(r"^VS(\d{8})$")[0]
        offset = self._offset("referral", pd.to_numeric(ref, errors="coerce").max())
        shifted = ("VS" + (pd.to_numeric(ref, errors="coerce") + offset).astype("Int64").astype("string")
                   .str.zfill(8))
        referrals["Referral Ref"] = shifted.fillna(referrals["Referral Ref"].astype("string"))
        referrals["Police Crime No"] = renumber(referrals["Police Crime No"])
        victim_text = referrals["Police Victim No"].astype("string")
        digits = victim_text.str.fullmatch(r"\d{1,9}").fillna(False)
        referrals["Police Victim No"] = victim_text.where(
            ~digits, (pd.to_numeric(victim_text.where(digits), errors="coerce") + victims)
            .astype("Int64").astype("string"))
        wcu = native["witness_care"]["WCU Updates"]
        wcu["WCU ID"] = add(wcu["WCU ID"], self._offset("wcu", wcu["WCU ID"].max()))
        wcu["Police Ref"] = renumber(wcu["Police Ref"])
        wcu["Witness ID"] = add(wcu["Witness ID"], victims)


def _append_sql(path: Path, tables: dict[str, pd.DataFrame]) -> int:
    """Append frames to a SQLite source (tables created on first use: integer ids, text else)."""
    connection = sqlite3.connect(path)
    try:
        for name, frame in tables.items():
            columns = ", ".join(
                f'"{c}" {"INTEGER" if pd.api.types.is_integer_dtype(frame[c]) else "TEXT"}'
                + (" PRIMARY KEY" if i == 0 else "") for i, c in enumerate(frame.columns))
            connection.execute(f'CREATE TABLE IF NOT EXISTS "{name}" ({columns})')
            rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
            marks = ", ".join("?" * frame.shape[1])
            connection.executemany(f'INSERT INTO "{name}" VALUES ({marks})', rows)
        connection.commit()
    finally:
        connection.close()
    return sum(len(frame) for frame in tables.values())


def _append_csv(folder: Path, rows: pd.DataFrame) -> None:
    """Append rows to their day's CSV drop (header when the file is new), as `vcp generate` writes."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in rows.groupby("source_file", sort=True):
        path = folder / str(name)
        frame.drop(columns="source_file").to_csv(path, mode="a", header=not path.exists(), index=False,
                                                 lineterminator="\n", encoding="utf-8")


def generate(args: argparse.Namespace) -> None:
    from vcpipeline.sources.config import load_source_config
    from vcpipeline.synth.force import ForceSpec, generate_force
    from vcpipeline.synth.write import write_xlsx_drops

    work = Path(args.work)
    (work / "sources").mkdir(parents=True, exist_ok=True)
    configs = load_source_config(var=work)
    months = _months(args.first_month, args.months)
    days = (months[-1][1] - months[0][0]).days
    extract_day = months[-1][1]
    # The look-back: 3 days (SQL sources), 7 (drops).
    others_from = months[max(0, len(months) - args.others_last_months)][0] - timedelta(days=8)
    crs_db, vcl_db = work / "sources/crime_recording.db", work / "sources/victim_contact.db"
    for path in (crs_db, vcl_db):
        path.unlink(missing_ok=True)
    shifter, witness_care, written = Shifter(), [], {"crimes": 0}
    began, cpu = time.perf_counter(), time.process_time()
    for k, (start, end) in enumerate(months):
        share = round(args.crimes * (end - months[0][0]).days / days) - written["crimes"]
        spec = ForceSpec(crimes=share, start=start, days=(end - start).days, seed=args.seed * 1000 + k,
                         tail_days=(extract_day - end).days + TAIL_DAYS)
        native = generate_force(spec, configs).native
        shifter.shift(native)
        written["crimes"] += share
        for source, tables in native.items():
            written[source] = written.get(source, 0) + sum(len(t) for t in tables.values())
        _append_sql(crs_db, native["crime_recording"])
        contacts = native["victim_contact"]["contacts"]
        cutoff = pd.Timestamp(others_from).strftime("%Y-%m-%d")
        _append_sql(vcl_db, {"contacts": contacts[contacts["modified_at"].astype(str) >= cutoff]})
        referrals = native["victim_support"]["referrals"]
        file_day = referrals["source_file"].str.extract(r"_(\d{8})")[0]
        _append_csv(work / "landing/victim_support",
                    referrals[file_day >= pd.Timestamp(others_from).strftime("%Y%m%d")])
        wcu = native["witness_care"]["WCU Updates"]
        wcu_day = wcu["source_file"].str.extract(r"_(\d{8})")[0]
        witness_care.append(wcu[wcu_day >= pd.Timestamp(others_from).strftime("%Y%m%d")])
        del native
        print(f"{start:%Y-%m}: {share:,} crimes; {time.perf_counter() - began:,.0f} s wall, "
              f"{time.process_time() - cpu:,.0f} s CPU; load {os.getloadavg()[0]:.2f}", flush=True)
    wcu_config = next(c for c in configs if c.name == "witness_care")
    write_xlsx_drops(Path(wcu_config.connection), pd.concat(witness_care, ignore_index=True),
                     wcu_config.tables[0], wcu_config.file_pattern or "*.xlsx",
                     datetime_columns=("Event Date", "Last Modified"))
    for path, statements in ((crs_db, ["crimes(modified_at)", "crimes(crime_no)", "victims(modified_at)",
                                       "milestones(modified_at)", "finalisations(modified_at)"]),
                             (vcl_db, ["contacts(modified_at)"])):
        connection = sqlite3.connect(path)
        for k, target in enumerate(statements):
            connection.execute(f"CREATE INDEX IF NOT EXISTS ix_{k} ON {target}")
        connection.commit()
        connection.close()
    summary = {"crimes": written["crimes"], "rows_generated": {k: v for k, v in written.items() if k != "crimes"},
               "others_written_from": str(others_from),
               "extract_day": str(extract_day), "wall_seconds": round(time.perf_counter() - began, 1),
               "cpu_seconds": round(time.process_time() - cpu, 1), "load_average": os.getloadavg(),
               "disk_mb": round(sum(p.stat().st_size for p in work.rglob("*") if p.is_file()) / 2**20)}
    (work / "generated.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary), flush=True)


# ----------------------------------------------------------------------------- one chunk (child)

def _backend_pids(engine: Any) -> set[int]:
    import sqlalchemy as sa

    pids: set[int] = set()
    if engine.dialect.name == "postgresql":
        @sa.event.listens_for(engine, "connect")
        def _remember(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            pids.add(int(cursor.fetchone()[0]))
            cursor.close()
    return pids


def _server_cpu(pids: set[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def child(args: argparse.Namespace) -> None:
    """Load one chunk in this process, its stages timed; the result as JSON on the last line."""
    from vcpipeline.ingest import first_load
    from vcpipeline.ingest import run as ingest_run
    from vcpipeline.sources.config import load_source_config
    from vcpipeline.warehouse.db import make_engine

    timings: dict[str, list[float]] = {name: [0.0, 0.0] for name in STAGES}
    for name in STAGES:
        original = getattr(ingest_run, name)

        def timed(*a: Any, __original: Any = original, __name: str = name, **kw: Any) -> Any:
            if __name == "load_validated" and args.marker:
                Path(args.marker).write_text("in the load transaction")
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return __original(*a, **kw)
            finally:
                timings[__name][0] += time.perf_counter() - wall
                timings[__name][1] += time.process_time() - cpu

        setattr(ingest_run, name, timed)
    configs = load_source_config(var=Path(args.work))
    chunk = first_load.Chunk.from_json(json.loads(args.chunk))
    engine = make_engine(args.url)
    pids = _backend_pids(engine)
    try:
        config = next(c for c in configs if c.name == chunk.source)
        result = first_load.load_chunk(chunk, config, engine, configs=configs)
        server = _server_cpu(pids)
    finally:
        engine.dispose()
    print(json.dumps({**result.summary(), "server_cpu": round(server, 2),
                      "stages": {k: [round(w, 2), round(c, 2)] for k, (w, c) in timings.items() if w}}))


# ----------------------------------------------------------------------------- the load (parent)

def _run_child(args: argparse.Namespace, chunk: Any, *, kill: bool = False) -> dict[str, Any]:
    marker = Path(args.work) / "kill-marker"
    marker.unlink(missing_ok=True)
    command = [sys.executable, __file__, "child", "--work", args.work, "--url", args.url,
               "--chunk", json.dumps(chunk.as_json())] + (["--marker", str(marker)] if kill else [])
    load_before, began = os.getloadavg()[0], time.perf_counter()
    output_file = Path(args.work) / "child-output.json"
    with output_file.open("w") as output:
        process = subprocess.Popen(command, stdout=output)
    killed, done = False, None
    if kill:  # wait until the child is inside its load transaction, then a while longer
        while done is None and not marker.exists():
            done = _reaped(process.pid, block=False)
            time.sleep(0.05)
        time.sleep(args.kill_after)
        done = done or _reaped(process.pid, block=False)
        if done is None:
            os.kill(process.pid, signal.SIGKILL)
            killed = True
    status, usage = done or _reaped(process.pid, block=True)
    code = process.returncode = os.waitstatus_to_exitcode(status)
    output = output_file.read_text()
    row: dict[str, Any] = {"label": chunk.label, "exit": code, "killed": killed}
    if code == 0:
        row.update(json.loads(output.strip().splitlines()[-1]))
    elif not killed:
        raise RuntimeError(f"chunk {chunk.label} failed (exit {code})")
    row.update(wall=round(time.perf_counter() - began, 2), cpu=round(usage.ru_utime + usage.ru_stime, 2),
               peak_rss_mb=round(usage.ru_maxrss / 1024), load_before=round(load_before, 2),
               load_after=round(os.getloadavg()[0], 2))
    return row


def _reaped(pid: int, *, block: bool) -> tuple[int, Any] | None:
    """(wait status, rusage) of the finished child, or None while it runs (`block=False`)."""
    found, status, usage = os.wait4(pid, 0 if block else os.WNOHANG)
    return None if found == 0 else (status, usage)


def _warehouse_counts(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                    for t in ("crimes", "victims", "case_events", "quarantine", "load_batches")}
    finally:
        engine.dispose()


def load(args: argparse.Namespace) -> None:
    from vcpipeline.ingest import first_load
    from vcpipeline.sources.config import load_source_config
    from vcpipeline.warehouse.db import make_engine
    from vcpipeline.warehouse.migrate import upgrade

    generated = json.loads((Path(args.work) / "generated.json").read_text())
    start = datetime.fromisoformat(args.start or f"{args.first_month}-01T02:00").replace(tzinfo=LONDON)
    last = date.fromisoformat(generated["extract_day"]) + timedelta(days=TAIL_DAYS)  # the extract's day
    end = datetime.fromisoformat(args.end or f"{last}T02:00").replace(tzinfo=LONDON)
    upgrade(args.url)
    configs = load_source_config(var=Path(args.work))
    chunks = first_load.plan_chunks(configs, start, end, args.period, args.source)
    out = open(args.out, "a", encoding="utf-8")  # appended chunk by chunk
    print(f"{len(chunks)} chunk(s) of {', '.join(args.source)} from {start} to {end}; "
          f"{os.cpu_count()} CPUs; load {os.getloadavg()}", flush=True)
    for index, chunk in enumerate(chunks):
        if index == args.kill_chunk:
            before = _warehouse_counts(args.url)
            killed = _run_child(args, chunk, kill=True)
            after = _warehouse_counts(args.url)
            killed.update(phase="killed", counts_before=before, counts_after_kill=after,
                          nothing_left=before == after)
            out.write(json.dumps(killed) + "\n")
            print(f"KILLED {chunk.label} after {killed['wall']} s; warehouse unchanged: "
                  f"{before == after}", flush=True)
        row = _run_child(args, chunk)
        row["phase"] = "rerun after kill" if index == args.kill_chunk else "load"
        out.write(json.dumps(row) + "\n")
        out.flush()
        rate = row["rows_extracted"] / row["wall"] if row["wall"] else 0
        print(f"{row['label']:40} {row['status']:8} {row['rows_extracted']:>9,} rows  {row['wall']:7.1f} s "
              f"({rate:,.0f} rows/s)  cpu {row['cpu']:6.1f} + server {row.get('server_cpu', 0):5.1f} s  "
              f"peak {row['peak_rss_mb']:,} MB  load {row['load_before']:.1f}", flush=True)
    engine = make_engine(args.url)
    try:
        totals = first_load.reconcile(engine, chunks)
    finally:
        engine.dispose()
    out.write(json.dumps({"phase": "reconciled", **totals}) + "\n")
    out.close()
    print("reconciled:", json.dumps(totals), flush=True)


def summary(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in Path(args.results).read_text().splitlines() if line.strip()]
    loads = [r for r in rows if r.get("phase") in ("load", "rerun after kill") and r.get("status") == "loaded"]
    for source in sorted({r["source"] for r in loads}):
        mine = [r for r in loads if r["source"] == source]
        extracted = sum(r["rows_extracted"] for r in mine)
        wall, cpu = sum(r["wall"] for r in mine), sum(r["cpu"] for r in mine)
        server = sum(r.get("server_cpu", 0) for r in mine)
        stages: dict[str, float] = {}
        for r in mine:
            for name, (w, _c) in r.get("stages", {}).items():
                stages[name] = stages.get(name, 0) + w
        print(f"{source}: {len(mine)} chunks, {extracted:,} rows extracted in {wall:,.0f} s wall "
              f"({extracted / wall:,.0f} rows/s), {cpu:,.0f} s CPU + {server:,.0f} s server; "
              f"chunk wall {min(r['wall'] for r in mine):.1f}-{max(r['wall'] for r in mine):.1f} s, "
              f"peak RSS {max(r['peak_rss_mb'] for r in mine):,} MB (max), "
              f"load average {min(r['load_before'] for r in mine):.1f}-{max(r['load_before'] for r in mine):.1f}")
        print("   stages (wall s): " + ", ".join(f"{k} {v:,.0f}" for k, v in
                                               sorted(stages.items(), key=lambda kv: -kv[1])))
    for r in rows:
        if r.get("phase") in ("killed", "rerun after kill", "reconciled"):
            print(json.dumps({k: v for k, v in r.items() if k not in ("stages", "notes", "by_source")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    g = commands.add_parser("generate")
    g.add_argument("--work", required=True)
    g.add_argument("--crimes", type=int, default=5_000_000)
    g.add_argument("--first-month", default="2021-04")
    g.add_argument("--months", type=int, default=60)
    g.add_argument("--others-last-months", type=int, default=6)
    g.add_argument("--seed", type=int, default=16)
    g.set_defaults(func=generate)
    ld = commands.add_parser("load")
    ld.add_argument("--work", required=True)
    ld.add_argument("--url", required=True)
    ld.add_argument("--source", action="append", required=True)
    ld.add_argument("--first-month", default="2021-04")
    ld.add_argument("--from", dest="start")
    ld.add_argument("--to", dest="end")
    ld.add_argument("--period", default="month")
    ld.add_argument("--kill-chunk", type=int, default=-1)
    ld.add_argument("--kill-after", type=float, default=3.0, help="seconds into the load transaction")
    ld.add_argument("--out", default="first-load-chunks.jsonl")
    ld.set_defaults(func=load)
    c = commands.add_parser("child")
    c.add_argument("--work", required=True)
    c.add_argument("--url", required=True)
    c.add_argument("--chunk", required=True)
    c.add_argument("--marker")
    c.set_defaults(func=child)
    s = commands.add_parser("summary")
    s.add_argument("results")
    s.set_defaults(func=summary)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
