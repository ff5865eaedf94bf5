"""Outputs decoded into plain text, one record per line, for the privacy check to search.

A record is what belongs together: a spreadsheet or table row (cells joined by tabs), a line of
text, an HTML table row or paragraph, a JSON object's own values. Binary containers are opened
the way a reader would open them: an e-mail's parts decoded from base64 / quoted-printable and
its attachments decoded in turn, every sheet and cell of a workbook (formulas as written),
every column of a Parquet file. A file the check cannot decode is reported as text of its bytes,
so nothing is skipped without being searched.
"""

from __future__ import annotations

import email
import email.policy
import html
import io
import json
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

# The file types the pipeline writes (and Data Docs' own), by suffix.
TEXT_SUFFIXES = frozenset({".csv", ".md", ".txt", ".tsv"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SEARCHED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | frozenset({".eml", ".xlsx", ".xlsm", ".json", ".parquet"})

_XLSX_TYPES = frozenset({
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel.sheet.macroenabled.12",
})
_BLOCK_END = re.compile(r"<(?:/tr|br|/p|/div|/li|/h\d|/table|/pre|/title|/th|/caption)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_SCRIPT_OR_STYLE = re.compile(r"<style\b.*?</style>", re.I | re.S)

Document = tuple[str, str]  # (where it is, its text: one record per line)


def cell_text(value: Any) -> str:
    """A cell as a reader sees it: a date without a time as `YYYY-MM-DD`, a timestamp in ISO form."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def html_text(markup: str) -> str:
    """The text of an HTML page, a line per table row, paragraph or list item; entities decoded."""
    markup = _SCRIPT_OR_STYLE.sub(" ", markup)
    text = _TAG.sub(" ", _BLOCK_END.sub("\n", markup))
    return html.unescape(text).replace("\xa0", " ")


def xlsx_text(data: bytes) -> str:
    """Every sheet (hidden ones too), every row a line of tab-separated cells; formulas as written."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        lines: list[str] = []
        for sheet in workbook.worksheets:
            lines.append(sheet.title)
            lines.extend("\t".join(cell_text(v) for v in row if v is not None)
                         for row in sheet.iter_rows(values_only=True))
        return "\n".join(lines)
    finally:
        workbook.close()


def json_text(data: str) -> str:
    """Each JSON object's keys and scalar values on a line of their own (nested objects on theirs)."""
    try:
        root = json.loads(data)
    except ValueError:
        return data
    lines: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            lines.append("\t".join(f"{key}\t{_scalars(value)}" for key, value in node.items()))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(root)
    if not isinstance(root, dict):
        lines.append(_scalars(root))
    return "\n".join(lines)


def _scalars(value: Any) -> str:
    if isinstance(value, dict):
        return ""
    if isinstance(value, list):
        return "\t".join(_scalars(item) for item in value if not isinstance(item, dict | list))
    return "" if value is None else str(value)


def parquet_text(data: bytes) -> str:
    """Every row of a Parquet file as a line of tab-separated values, every column as text."""
    import pyarrow.parquet as pq

    frame = pq.read_table(io.BytesIO(data)).to_pandas()
    if frame.empty:
        return "\t".join(map(str, frame.columns))
    cells = frame.astype("string").fillna("")
    rows = cells.iloc[:, 0].str.cat([cells.iloc[:, i] for i in range(1, cells.shape[1])], sep="\t")
    return "\n".join(["\t".join(map(str, frame.columns)), *rows.tolist()])


def decoded(place: str, name: str, data: bytes, content_type: str = "") -> Iterator[Document]:
    """The documents inside one file or attachment, by its name (or MIME type when it has none)."""
    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".eml" or content_type == "message/rfc822":
            yield from email_documents(place, data)
        elif suffix in {".xlsx", ".xlsm"} or content_type in _XLSX_TYPES:
            yield place, xlsx_text(data)
        elif suffix == ".parquet":
            yield place, parquet_text(data)
        elif suffix == ".json" or content_type == "application/json":
            yield place, json_text(data.decode("utf-8", errors="replace"))
        elif suffix in HTML_SUFFIXES or content_type == "text/html":
            yield place, html_text(data.decode("utf-8", errors="replace"))
        else:
            yield place, data.decode("utf-8", errors="replace")
    except Exception:  # a file the check cannot open is still searched, as bytes
        yield f"{place} (undecodable)", data.decode("utf-8", errors="replace")


def email_documents(place: str, data: bytes) -> Iterator[Document]:
    """A message's headers, every text part and every attachment, decoded (base64, quoted-printable).

    `walk()` descends into attached messages too; each leaf part is decoded by its file name or
    MIME type, so a worksheet attached to a reviewers' e-mail is read cell by cell.
    """
    message = email.message_from_bytes(data, policy=email.policy.default)
    headers = "\n".join(f"{key}: {value}" for key, value in message.items())
    yield f"{place} (headers)", headers
    for number, part in enumerate(message.walk()):
        if part.is_multipart() or part.get_content_type() == "message/rfc822":
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename() or ""
        where = f"{place} part {number}" + (f" ({filename})" if filename else "")
        charset = part.get_content_charset() or "utf-8"
        if not filename and part.get_content_maintype() == "text":
            payload = payload.decode(charset, errors="replace").encode("utf-8")
        yield from decoded(where, filename, payload, part.get_content_type())


def folder_documents(folders: Iterable[Path]) -> Iterator[Document]:
    """Every file the pipeline writes under `folders` (recursively), decoded."""
    for folder in folders:
        for path in sorted(p for p in Path(folder).rglob("*")
                           if p.is_file() and p.suffix.lower() in SEARCHED_SUFFIXES):
            yield from decoded(str(path), path.name, path.read_bytes())


def warehouse_documents(url: str, *, chunk_rows: int = 50_000) -> Iterator[Document]:
    """Every text, JSON and date column of every warehouse table, a line per row, in chunks.

    The tables are found by reflection, so a table added later is searched without a change here.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                columns = [c for c in table.columns if isinstance(c.type, sa.String | sa.JSON | sa.Date)]
                if not columns:
                    continue
                result = conn.execution_options(stream_results=True).execute(sa.select(*columns))
                for number, rows in enumerate(result.partitions(chunk_rows)):
                    text = "\n".join("\t".join(cell_text(v) for v in row if v is not None) for row in rows)
                    yield f"warehouse table {table.name} (rows from {number * chunk_rows})", text
    finally:
        engine.dispose()
