"""Which of P partitions a crime's obligations are evaluated in: CRC-32 of its `crime_ref`.

A crime's obligations depend only on its own crime, victims and events, so the crimes can be
split into P independent partitions, each read, evaluated and written by its own task. The
split must be stable: the same crime in the same partition every night, in every process, on
every Python, pandas and database version, so that a partition's retry or a later night touches
the same rows. So it is not Python's `hash` (salted) nor `pandas.util.hash_pandas_object`
(version-dependent), but CRC-32 (ISO-HDLC, as `zlib.crc32`) of the reference's UTF-8 bytes,
modulo P, computed here in Python on the references as read, so SQLite and PostgreSQL give the
same split. The CRC runs over Arrow's byte buffer one byte position at a time for every
reference at once (references are short: about 20 vectorised steps, no per-row Python).

P is configuration: `VCP_PARTITIONS`, else 1 on SQLite (one writer at a time: more partitions
only add transactions) and 4 on PostgreSQL.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from vcpipeline.rules.keys import strings

PARTITIONS_ENV = "VCP_PARTITIONS"
DEFAULT_PARTITIONS = {"sqlite": 1, "postgresql": 4}


def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0xEDB88320), table >> 1).astype(np.uint32)
    return table


_CRC_TABLE = _crc_table()


def crc32_utf8(values: Any) -> np.ndarray:
    """CRC-32 of each text's UTF-8 bytes (as `zlib.crc32(text.encode())`; a null as ''), uint32."""
    array = strings(values).fill_null("")
    n = len(array)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset: array.offset + n + 1]
    data_buffer = array.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)
    crc = np.full(n, 0xFFFFFFFF, dtype=np.uint32)
    for position in range(int(lengths.max()) if n else 0):
        rows = np.flatnonzero(lengths > position)
        current = crc[rows]
        byte = data[starts[rows] + position]
        crc[rows] = _CRC_TABLE[(current ^ byte) & 0xFF] ^ (current >> 8)
    return crc ^ np.uint32(0xFFFFFFFF)


def partition_of(crime_refs: Any, partitions: int) -> np.ndarray:
    """Each crime's partition, 0 .. partitions - 1."""
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, not {partitions}")
    return (crc32_utf8(crime_refs) % np.uint32(partitions)).astype(np.int64)


def configured_partitions(dialect: str) -> int:
    """P for a warehouse of this dialect: `VCP_PARTITIONS`, else the dialect's default."""
    text = os.environ.get(PARTITIONS_ENV, "").strip()
    if not text:
        return DEFAULT_PARTITIONS.get(dialect, 1)
    return checked_partitions(text, PARTITIONS_ENV)


def checked_partitions(text: str | int, where: str) -> int:
    """A configured P as a whole number of at least 1, or an error naming where it came from."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must be a whole number of at least 1, not {text!r}") from None
    if value < 1:
        raise ValueError(f"{where} must be a whole number of at least 1, not {text!r}")
    return value


__all__ = ["DEFAULT_PARTITIONS", "PARTITIONS_ENV", "checked_partitions", "configured_partitions",
           "crc32_utf8", "partition_of"]
