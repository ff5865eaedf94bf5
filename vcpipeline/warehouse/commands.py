"""`vcp db upgrade` and `vcp db current`: the warehouse schema from the command line."""

from __future__ import annotations

import argparse

from vcpipeline.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    db = subparsers.add_parser("db", help="warehouse schema: upgrade, current revision")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")

    upgrade = actions.add_parser("upgrade", help="apply migrations up to a revision (default: head)")
    upgrade.add_argument("--url", help="warehouse URL (default: VCP_WAREHOUSE_URL or the SQLite file)")
    upgrade.add_argument("--revision", default="head", help="target revision (default: head)")
    upgrade.set_defaults(func=_upgrade)

    current = actions.add_parser("current", help="print the warehouse's schema revision")
    current.add_argument("--url", help="warehouse URL (default: VCP_WAREHOUSE_URL or the SQLite file)")
    current.set_defaults(func=_current)


def _url(args: argparse.Namespace) -> str:
    from vcpipeline import settings

    return args.url or settings.warehouse_url()


def _upgrade(args: argparse.Namespace) -> int:
    import sqlalchemy as sa
    from alembic.util import CommandError

    from vcpipeline.warehouse import migrate
    from vcpipeline.warehouse.db import display_url

    url = _url(args)
    try:
        migrate.upgrade(url, args.revision)
        revision = migrate.current(url)
    except (sa.exc.OperationalError, sa.exc.ArgumentError, CommandError) as exc:
        raise UsageError(f"{display_url(url)}: {_first_line(exc)}") from exc
    print(f"warehouse {display_url(url)} at revision {revision}")
    return 0


def _current(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from vcpipeline.warehouse import migrate
    from vcpipeline.warehouse.db import display_url

    url = _url(args)
    try:
        revision = migrate.current(url)
        newest = migrate.head()
    except (sa.exc.OperationalError, sa.exc.ArgumentError) as exc:
        raise UsageError(f"{display_url(url)}: {_first_line(exc)}") from exc
    if revision is None:
        print(f"(none): warehouse not created; run `vcp db upgrade` (head is {newest})")
    elif revision == newest:
        print(f"{revision} (head)")
    else:
        print(f"{revision} (behind head {newest}; run `vcp db upgrade`)")
    return 0


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
