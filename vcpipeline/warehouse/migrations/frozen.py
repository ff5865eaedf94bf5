"""Frozen helpers for the revisions in `versions/`: never import live project code from a revision.

A revision must keep meaning the schema it made, whatever `schema.py` or the `sql/` folder says
later, so what revisions share lives here and is never changed once a revision uses it (a new
need gets a new name). Only revisions import this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An instant column as revisions 0001-0004 create it: `timestamptz` on PostgreSQL,
    VARCHAR(27) (fixed-width UTC ISO 8601 text) on SQLite. DDL only: no revision writes rows."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(27))
        return dialect.type_descriptor(sa.DateTime(timezone=True))
