"""`obligations.csv` exactly as CONTRACT.md says: its 13 columns, the contract's row order
(byte order of the text keys), UTC instants as text, LF endings, minimal quoting."""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vcpipeline.canonical import OBLIGATION_COLUMNS
from vcpipeline.rules.keys import instants_us, labelled, strings, utc_text, write_csv

SORT_COLUMNS: tuple[str, ...] = ("crime_ref", "victim_id", "rule", "trigger_at", "trigger_event_id")


def sort_obligations(obligations: pd.DataFrame) -> pd.DataFrame:
    """The contract order: crime_ref, victim_id, rule, trigger_at, trigger_event_id as byte strings."""
    return obligations.iloc[_contract_order(obligations)]


def obligations_csv_bytes(obligations: pd.DataFrame) -> bytes:
    """`obligations.csv` exactly as the contract says: its columns, order, text and LF endings."""
    buffer = io.BytesIO()
    _write_obligations(obligations, buffer)
    return buffer.getvalue()


def write_obligations_csv(obligations: pd.DataFrame, file: Path | str | IO[str] | IO[bytes]) -> None:
    """`obligations.csv` to a path, a text stream (stdout) or a binary stream."""
    if isinstance(file, str | Path):
        with Path(file).open("wb") as sink:
            _write_obligations(obligations, sink)
    elif getattr(file, "buffer", None) is not None:  # a real text stream, e.g. sys.stdout
        file.flush()
        _write_obligations(obligations, file.buffer)
        file.buffer.flush()
    elif isinstance(file, io.TextIOBase):
        file.write(obligations_csv_bytes(obligations).decode("utf-8"))
    else:
        _write_obligations(obligations, file)


def _write_obligations(obligations: pd.DataFrame, sink: IO[bytes]) -> None:
    order = _contract_order(obligations)
    taken = pa.array(order)
    columns: dict[str, pa.Array] = {}
    for column in OBLIGATION_COLUMNS:
        values = obligations[column]
        if column in ("trigger_at", "due_at", "met_at"):
            columns[column] = utc_text(instants_us(values)[order])
        elif column == "enhanced":
            columns[column] = labelled(values.to_numpy(dtype=bool)[order].astype(np.int8), ("false", "true"))
        elif column == "channel_as_agreed":  # nullable: empty when there is nothing to compare
            flags = values.astype("boolean")
            codes_ = np.where(flags.isna().to_numpy(), -1, flags.fillna(False).to_numpy(dtype=bool))
            columns[column] = labelled(codes_[order], ("false", "true"))
        elif isinstance(values.dtype, pd.CategoricalDtype):
            columns[column] = labelled(values.cat.codes.to_numpy()[order], values.cat.categories.astype(str))
        else:
            columns[column] = strings(values).take(taken)
    write_csv(columns, sink)


def _contract_order(obligations: pd.DataFrame) -> np.ndarray:
    keys = pa.table({
        "crime_ref": strings(obligations["crime_ref"]).fill_null(""),
        "victim_id": strings(obligations["victim_id"]).fill_null(""),
        "rule": strings(obligations["rule"]),
        # As printed (whole seconds), so fractions of a second never outrank trigger_event_id.
        "trigger_at": np.floor_divide(instants_us(obligations["trigger_at"]), 1_000_000),
        "trigger_event_id": strings(obligations["trigger_event_id"]).fill_null(""),
    })
    order = pc.sort_indices(keys, sort_keys=[(c, "ascending") for c in SORT_COLUMNS])
    return order.to_numpy()
