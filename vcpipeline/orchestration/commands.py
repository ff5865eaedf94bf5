"""`vcp demo`: a synthetic force, run through the real pipeline on the embedded warehouse.

What `make demo` runs. It generates a quarter of a force's four source systems, then lets
Airflow run the nightly DAG (`dag.test()`, throw-away metadata database) for the last nights
up to the moment the synthetic extract was taken — the first night catches the whole quarter
up —, then the quarterly dip sample, the demo reviewers and the review ingest, and finally
builds the compliance reports and the force's quarterly return, beside the returns of two more
small synthetic forces (each in its own warehouse under `var/demo-forces/`) and the three combined
(`out/returns/`). Every e-mail lands in `out/mail/`.
"""

from __future__ import annotations

import argparse
import shutil
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from vcpipeline import instants, settings
from vcpipeline.errors import UsageError
from vcpipeline.orchestration.demo_forces import EXTRA_FORCES, MAIN_FORCE, RegionResult, forces_dir

DEFAULT_CRIMES = 80_000  # one quarter of a force the size of West Midlands Police
DEFAULT_QUARTER = "2026Q3"
TAIL_DAYS = 14  # the extract is taken 14 days after the quarter ends, as `vcp generate` does


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="generate a synthetic force and run the whole pipeline",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--crimes", type=int, default=DEFAULT_CRIMES, help="crimes in the quarter")
    parser.add_argument("--quarter", default=DEFAULT_QUARTER, help="the synthetic quarter, e.g. 2026Q3")
    parser.add_argument("--nights", type=int, default=7, help="nightly runs up to the extract")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true",
                        help="keep the existing warehouse and out/ instead of starting afresh")
    parser.set_defaults(func=run)


def first_night_for(quarter_end: date, nights: int) -> date:
    """The first of `nights` 02:00 runs whose last one covers the extract (midnight after the tail)."""
    extract_night = quarter_end + timedelta(days=TAIL_DAYS + 1)
    return extract_night - timedelta(days=nights - 1)


def _fresh_start(out: Path) -> None:
    """A demo starts from nothing, so it shows the same thing every time."""
    url = settings.warehouse_url()
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(settings.var_dir() / "landing", ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    from vcpipeline.cli import main as vcp
    from vcpipeline.orchestration import demo
    from vcpipeline.synth.commands import quarter_window

    if args.nights < 1 or args.crimes < 1:
        raise UsageError("--nights and --crimes must be positive")
    start, days = quarter_window(args.quarter)
    first_night = first_night_for(start + timedelta(days=days - 1), args.nights)
    out = settings.out_dir()
    if not args.keep:
        _fresh_start(out)

    # The force goes on recording crimes after the quarter, up to the extract, as a real one does:
    # the nights the demo runs then carry a normal night's volume.
    reported_days = days + TAIL_DAYS
    crimes = round(args.crimes * reported_days / days)
    print(f"== 1/4 generating {args.crimes:,} crimes in {args.quarter} and the {TAIL_DAYS} days after "
          f"(seed {args.seed})", flush=True)
    code = vcp(["generate", "--crimes", str(crimes), "--start", start.isoformat(),
                "--days", str(reported_days), "--seed", str(args.seed), "--tail-days", "0"])
    if code:
        return code

    print(f"== 2/4 Airflow: {args.nights} nightly runs from {first_night}, then the dip sample", flush=True)
    code = demo.run_in_subprocess(first_night, args.nights, settings.warehouse_url())
    if code:
        return code

    print("== 3/4 compliance reports", flush=True)
    from vcpipeline.report import build_period_report

    last_month = (start + timedelta(days=days - 1)).strftime("%Y-%m")
    for period in (args.quarter, last_month):
        path = build_period_report(settings.warehouse_url(), period, out / "report")
        print(f"  report {period}: {path}")

    region = _regional_returns(args.quarter, start, reported_days, first_night, args.nights, out)

    from vcpipeline.audit.privacy_check import leaked_victim_details, leaked_victim_ids

    outputs = [out / "mail", out / "report", out / "sample", out / "data_docs", out / "returns"]
    leaked = leaked_victim_details(settings.var_dir() / "sources" / "crime_recording.db", outputs,
                                   warehouse_url=settings.warehouse_url())
    for force in EXTRA_FORCES:  # the extra forces' own victims, in the returns (all they reach)
        for detail, places in leaked_victim_details(
                forces_dir() / force.code / "sources" / "crime_recording.db", [out / "returns"]).items():
            leaked.setdefault(detail, set()).update(places)
    ids = leaked_victim_ids([out / "returns"], [settings.warehouse_url(), *region.warehouse_urls])
    mails = len(list((out / "mail").glob("*.eml")))
    print(f"privacy check: {mails:,} e-mails and their attachments, the reports, worksheets, Data "
          "Docs and every text column of the warehouse searched for every victim's name, phone, "
          f"postcode, address line and date of birth in the sources: {len(leaked)} found; the "
          f"returns searched for every victim id and crime reference in the three warehouses: "
          f"{len(ids)} found")
    places = {place for found in (leaked, ids) for places in found.values() for place in places}
    for place in sorted(places)[:20]:
        print(f"  found in {place}")  # where, never the detail itself
    return 1 if leaked or ids else 0


def _regional_returns(quarter: str, start: date, reported_days: int, first_night: date, nights: int,
                      out: Path) -> RegionResult:
    """The main force's return, two more small forces' returns and the three combined, as of the
    main force's last night (the extract)."""
    from vcpipeline.orchestration.demo_forces import build_region

    sizes = " and ".join(f"{f.crimes:,} crimes ({f.code}, seed {f.seed})" for f in EXTRA_FORCES)
    print(f"== 4/4 quarterly returns: {MAIN_FORCE} (this force) and two small synthetic forces, "
          f"{sizes}, each in its own warehouse under {forces_dir()}, then the three combined", flush=True)
    last_night = first_night + timedelta(days=nights - 1)
    as_of = datetime.combine(last_night, time(2), tzinfo=ZoneInfo(instants.LONDON))
    region = build_region(settings.warehouse_url(), quarter, start, reported_days, as_of, out / "returns")
    for manifest in region.returns:
        print(f"  return: {manifest}")
    print(f"  combined: {region.combined} (and .csv); {region.seconds:.1f} s")
    return region
