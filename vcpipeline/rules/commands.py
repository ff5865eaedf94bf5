"""`vcp sla`: evaluate every obligation of every victim in a canonical folder as of an instant."""

from __future__ import annotations

import argparse
import os
import stat
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sla", help="obligations.csv for a canonical folder as of an instant",
        description="Evaluate every Victims Code obligation of every victim in DIR as of "
                    "TIMESTAMP (see shared/domain/CONTRACT.md).")
    parser.add_argument("--input", required=True, type=Path, metavar="DIR",
                        help="canonical folder: crimes.csv, victims.csv, events.csv")
    parser.add_argument("--as-of", required=True, metavar="TIMESTAMP",
                        help="ISO 8601 instant; without an offset it is Europe/London time")
    parser.add_argument("--out", type=Path, metavar="FILE", help="obligations.csv (default: stdout)")
    parser.add_argument("--quarantine", type=Path, metavar="FILE",
                        help="write the rows that could not be used here, with a reason column")
    parser.add_argument("--rulesets", type=Path, metavar="FILE",
                        help="rule-set file (default: the packaged rulesets.toml)")
    parser.set_defaults(func=run_sla)


def parse_as_of(text: str):
    """The --as-of instant in UTC; a one-line UsageError when it is not an ISO 8601 instant."""
    import pandas as pd

    from vcpipeline.errors import UsageError
    from vcpipeline.parsing import parse_instants

    parsed = parse_instants(pd.Series([text], dtype="string")).iloc[0]
    if pd.isna(parsed):
        raise UsageError(f"--as-of {text!r} is not an ISO 8601 instant (e.g. 2026-03-31T12:00:00Z)")
    return parsed


def run_sla(args: argparse.Namespace) -> int:
    from vcpipeline.parsing import read_canonical_folder
    from vcpipeline.rules.engine import evaluate, write_obligations_csv
    from vcpipeline.rules.prepare import prepare
    from vcpipeline.rules.ruleset import load_rulesets

    as_of = parse_as_of(args.as_of)
    rulesets = load_rulesets(args.rulesets)
    requested = {"--out": args.out, "--quarantine": args.quarantine}
    with staged_outputs({option: path for option, path in requested.items() if path is not None}) as files:
        raw = read_canonical_folder(args.input)
        prepared = prepare(raw, as_of)
        obligations = evaluate(prepared.crimes, prepared.victims, prepared.events, as_of, rulesets)
        if args.quarantine is not None:
            prepared.quarantine.to_csv(files["--quarantine"], index=False, lineterminator="\n")
        write_obligations_csv(obligations, files["--out"] if args.out is not None else sys.stdout)
    print(f"vcp sla: {summary_line(prepared.counts, obligations)}", file=sys.stderr)
    return 0


@contextmanager
def staged_outputs(destinations: dict[str, Path]) -> Iterator[dict[str, Path]]:
    """Where to write each output file so that all of them are written or none is (CONTRACT.md:
    an --out or --quarantine that cannot be written means nothing is written).

    Every destination gets an empty staging file beside it before any work is done, so one that
    cannot be written fails at once, as one line; the body writes the staging files, which are
    renamed over their destinations only when the body ends without error, and removed otherwise.
    A destination that is a device or a pipe (e.g. /dev/stdout) is written in place.
    """
    from vcpipeline.errors import UsageError

    targets = {option: path.resolve() for option, path in destinations.items()}  # write through links
    if len(set(targets.values())) < len(targets):
        raise UsageError("--out and --quarantine name the same file")
    staging: dict[str, Path] = {}
    try:
        for option, target in targets.items():
            staging[option] = _stage(option, target)
        try:
            yield staging
        except OSError as exc:
            option = next((o for o, path in staging.items() if str(path) == exc.filename), None)
            if option is None:
                raise
            raise UsageError(f"{option} {destinations[option]}: cannot be written ({exc.strerror})") from exc
        for option, path in staging.items():
            if path != targets[option]:
                os.replace(path, targets[option])
    finally:
        for option, path in staging.items():
            if path != targets[option]:
                path.unlink(missing_ok=True)


def _stage(option: str, target: Path) -> Path:
    """A new empty file beside `target` to write its content into (`target` itself for a device or pipe)."""
    from vcpipeline.errors import UsageError

    def refuse(why: str) -> UsageError:
        return UsageError(f"{option} {target}: cannot be written ({why})")

    if target.is_dir():
        raise refuse("it is a folder")
    if not target.parent.is_dir():
        raise refuse(f"{target.parent} is not a folder" if target.parent.exists()
                     else f"folder {target.parent} does not exist")
    in_place = target.exists() and not stat.S_ISREG(target.stat().st_mode)
    path = target if in_place else target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        path.open("ab" if in_place else "xb").close()  # a new file gets 0666 less the umask, like open()
    except OSError as exc:
        raise refuse(exc.strerror or str(exc)) from exc
    return path


def summary_line(counts: dict[str, int], obligations) -> str:
    """One line of counts for stderr and logs (no identifiers, no personal data): rows read per file,
    quarantined, replaced by a later row, left out as after the as-of instant, obligations by status."""
    from vcpipeline.canonical import STATUSES

    files = ("crimes", "victims", "events")
    read = ", ".join(f"{counts[f'{n}_read']} {n}" for n in files)
    after = ", ".join(f"{counts[f'{n}_after_as_of']} {n}" for n in files)
    statuses = obligations["status"].astype("string").value_counts()
    by_status = ", ".join(f"{int(statuses.get(s, 0))} {s}" for s in STATUSES)
    return (f"read {read}; quarantined {counts['quarantined']}; replaced by a later row "
            f"{counts['superseded']}; left out as after the as-of instant {counts['after_as_of']} ({after}); "
            f"{len(obligations)} obligations ({by_status})")
