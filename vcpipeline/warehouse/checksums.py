"""Order-independent checksums of frames and warehouse tables: a rerun of the same night must
leave every table's checksum as it was (the idempotence tests and `vcp` checks compare them)."""

from __future__ import annotations

import hashlib
from collections.abc import Collection

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import metadata

# Columns that change on every run, left out of checksums (`id`: a surrogate sequence value).
VOLATILE_COLUMNS: frozenset[str] = frozenset({
    "started_at", "finished_at", "processed_at", "quarantined_at", "updated_at", "loaded_at", "id",
})


def _canonical_text(values: pd.Series) -> pd.Series:
    """One column as text that is equal exactly when the stored values are equal."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        text = pd.Series(
            np.datetime_as_string(values.dt.tz_localize(None).to_numpy("datetime64[us]"), unit="us"),
            index=values.index, dtype="string",
        )
        return text.mask(values.isna(), "\0")
    return values.astype("string").fillna("\0")


def frame_checksum(frame: pd.DataFrame) -> str:
    """An order-independent digest of a frame's rows (column order matters, row order not)."""
    if frame.empty:
        return hashlib.sha256(b"0:" + ",".join(frame.columns).encode()).hexdigest()
    line = _canonical_text(frame.iloc[:, 0])
    for name in frame.columns[1:]:
        line = line.str.cat(_canonical_text(frame[name]), sep="\x1f")
    row_hashes = np.sort(pd.util.hash_pandas_object(line, index=False).to_numpy())
    digest = hashlib.sha256(f"{len(frame)}:{','.join(frame.columns)}:".encode())
    digest.update(row_hashes.tobytes())
    return digest.hexdigest()


def table_checksums(
    conn: sa.Connection, volatile: Collection[str] = VOLATILE_COLUMNS
) -> dict[str, str]:
    """A checksum of every warehouse table's contents, ignoring row order and volatile columns.

    Run the same night twice and these are equal; tables added by later migrations are included
    (reflected when this package's metadata does not know them).
    """
    names = sorted(set(sa.inspect(conn).get_table_names()) - {"alembic_version"})
    checksums: dict[str, str] = {}
    for name in names:
        table = metadata.tables.get(name)
        if table is None:
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
        columns = [column for column in table.columns if column.name not in volatile]
        checksums[name] = frame_checksum(read_frame(conn, sa.select(*columns)))
    return checksums
