"""`vcp alerts`: the morning e-mails to team leads (and the data-engineering digest), by hand.

    vcp alerts --as-of TIMESTAMP [--smtp HOST:PORT | --dry-run [--out DIR]] [--teams FILE]
               [--url URL] [--all-clear] [--data-engineering-email ADDRESS]
               [--smtp-timeout SECONDS] [--deadline SECONDS] [--max-timeouts N]
    vcp alerts --write-synthetic-teams FILE [--seed N] [--url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DATA_ENGINEERING_ENV = "VCP_DATA_ENGINEERING_EMAIL"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "alerts", help="e-mail team leads their new breaches and obligations due soon",
        description="Compose the alerts of the night ending --as-of from the warehouse and send "
                    "them (each breach once, each due date once), or write them as .eml files.",
    )
    parser.add_argument("--as-of", metavar="TIMESTAMP",
                        help="the end of the night evaluated (ISO 8601; naive = Europe/London)")
    parser.add_argument("--url", metavar="URL", help="warehouse URL (default: VCP_WAREHOUSE_URL)")
    parser.add_argument("--smtp", metavar="HOST:PORT", help="send through this SMTP server")
    parser.add_argument("--smtp-timeout", type=float, metavar="SECONDS", default=None,
                        help="give up on a mail server connection that is silent this long (default: 30)")
    parser.add_argument("--deadline", type=float, metavar="SECONDS", default=None,
                        help="stop sending after this long; the rest are reported (default: 900)")
    parser.add_argument("--max-timeouts", type=int, metavar="N", default=None,
                        help="stop sending after N timeouts in a row (default: 3)")
    parser.add_argument("--dry-run", action="store_true",
                        help="write .eml files to --out instead of sending; log nothing")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="folder for --dry-run e-mails (default: out/mail)")
    parser.add_argument("--teams", type=Path, metavar="FILE",
                        help="team reference CSV (department,team,lead_name,lead_email) to load first")
    parser.add_argument("--all-clear", action="store_true",
                        help="also e-mail teams with nothing new (an 'all clear')")
    parser.add_argument("--data-engineering-email", metavar="ADDRESS",
                        help=f"send the data-problems digest here (default: {DATA_ENGINEERING_ENV})")
    parser.add_argument("--data-docs-url", metavar="URL", default="",
                        help="link to the validation Data Docs in the digest")
    parser.add_argument("--write-synthetic-teams", type=Path, metavar="FILE",
                        help="write a made-up team reference for the warehouse's teams, then stop")
    parser.add_argument("--seed", type=int, default=42, help="seed for --write-synthetic-teams")
    parser.set_defaults(func=run)


def _smtp_address(text: str) -> tuple[str, int]:
    from vcpipeline.errors import UsageError

    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--smtp {text!r} is not HOST:PORT")
    return host, int(port)


def run(args: argparse.Namespace) -> int:
    from vcpipeline import settings
    from vcpipeline.alerts import reference
    from vcpipeline.alerts.deliver import (
        DEFAULT_DEADLINE,
        DEFAULT_MAX_CONSECUTIVE_TIMEOUTS,
        DEFAULT_SMTP_TIMEOUT,
        DeliveryError,
        smtp_sender,
    )
    from vcpipeline.alerts.run import run_alerts
    from vcpipeline.errors import UsageError
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(args.url)
    try:
        if args.write_synthetic_teams is not None:
            with engine.connect() as conn:
                teams = reference.warehouse_teams(conn)
            file = reference.write_team_reference(
                reference.synthetic_team_reference(teams, args.seed), args.write_synthetic_teams)
            print(f"wrote a team reference for {len(teams)} teams to {file}", file=sys.stderr)
            return 0
        if not args.as_of:
            raise UsageError("--as-of is required")
        from vcpipeline.rules.commands import parse_as_of

        as_of = parse_as_of(args.as_of)
        if args.dry_run == bool(args.smtp):
            raise UsageError("give exactly one of --smtp HOST:PORT and --dry-run")
        timeout = args.smtp_timeout if args.smtp_timeout is not None else DEFAULT_SMTP_TIMEOUT
        send = smtp_sender(*_smtp_address(args.smtp), timeout=timeout) if args.smtp else None
        folder = (args.out or settings.out_dir() / "mail") if args.dry_run else None
        try:
            summary = run_alerts(
                engine, as_of, send or (lambda _message: None), teams_file=args.teams,
                all_clear=args.all_clear, dry_run_folder=folder,
                data_engineering_email=args.data_engineering_email or os.environ.get(DATA_ENGINEERING_ENV),
                data_docs_url=args.data_docs_url,
                deadline=args.deadline if args.deadline is not None else DEFAULT_DEADLINE,
                max_consecutive_timeouts=(args.max_timeouts if args.max_timeouts is not None
                                          else DEFAULT_MAX_CONSECUTIVE_TIMEOUTS),
            )
        except DeliveryError as exc:
            print(f"vcp alerts: error: {exc}", file=sys.stderr)
            return 1
        print(json.dumps(summary, sort_keys=True))
        return 0
    finally:
        engine.dispose()
