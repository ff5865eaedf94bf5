"""The `vcp` command line.

Each command lives beside the code it drives, as a module with `register(subparsers)`
that sets `func` on its parser; `func(args)` returns the exit code. Modules are imported
only when listed here, and each keeps its heavy imports inside its `func`, so `vcp --help`
stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from vcpipeline.errors import InputError, UsageError

__all__ = ["InputError", "UsageError", "build_parser", "main"]

# One module per command (or group of commands); each has `register(subparsers)`.
COMMAND_MODULES: tuple[str, ...] = (
    "vcpipeline.warehouse.commands",   # vcp db upgrade | current
    "vcpipeline.synth.commands",       # vcp generate
    "vcpipeline.rules.commands",       # vcp sla
    "vcpipeline.sampling.commands",    # vcp sample
    "vcpipeline.alerts.commands",      # vcp alerts
    "vcpipeline.report.commands",      # vcp report
    "vcpipeline.returns.commands",     # vcp return | vcp return combine
    "vcpipeline.ingest.commands",      # vcp ingest | vcp quarantine list|replay
    "vcpipeline.ingest.first_load_command",  # vcp first-load
    "vcpipeline.orchestration.commands",  # vcp demo
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vcp", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, InputError) as exc:
        print(f"vcp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
