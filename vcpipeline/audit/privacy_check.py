"""The demo's proof that no victim's personal details reached an output: found by set intersection.

The details come from the synthetic crime recording system (the victim support and witness care
feeds carry the same people's names): names, phone numbers, postcodes, address lines and dates
of birth. Each document is split into words once; the words that can start a detail (a
forename, a postcode's outward code, a house number, a phone's first digits) are looked up with
the words after them in a dictionary of every victim's details. The cost grows with the text
searched, not with text × victims (measured: 30 MB of alert text in about 4 s, a million
warehouse rows in about 15 s, against 86,000 victims).

Dates of birth need a rule of their own. The generated victims' birthdays cover nearly every day
of the last century (and the babies' fall in the quarter itself), so a bare date in a report
would always match someone's. A date is a leak when it is tied to the person: a birth date
standing alone (`YYYY-MM-DD` as the source stores it, or `DD/MM/YYYY`; a date that is part of
a timestamp is an event time, not a birth date) in the same record (line, spreadsheet or table
row) as that victim's crime reference, victim id, name, phone, postcode or address line, or as a
birth-date label (`date of birth`, `date_of_birth`, `DOB`, `born`).
The pairing is what keeps real outputs clean: every date the pipeline writes about a crime (an
event, a due date) falls on or after its report, and its victims were born before it. A baby
born on the very day of the report is the exception: its report date (allowed, and written
beside its crime reference, e.g. in `victim_compliance.report_date`) is its birthday, so its
date of birth is tied to its name, phone, postcode and address line only, not to its crime
reference or victim id (the demo of 29 Nov 2026 had three such victims).

The quarterly returns go outside the force, so they must not even name a record: they are also
searched for every pseudonymous victim id and crime reference in the warehouses (`leaked_victim_ids`).
"""

from __future__ import annotations

import re
import sqlite3
import string
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vcpipeline.audit.documents import Document, folder_documents, warehouse_documents

# Tokens: split at white space and punctuation, except the `/ - +` inside crime references, dates
# and phone numbers. `str.translate` and `str.split` run at C speed, unlike a regex per detail.
_SEPARATORS = str.maketrans({c: " " for c in string.punctuation if c not in "/+-"})
_CRIME_REF = re.compile(r"\d{2}/\d{6}/\d{2}")
_VICTIM_ID = re.compile(r"V\d{7}")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b(?![T ]\d{1,2}:)")
_UK_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b(?![T ]\d{1,2}:)")
_LABEL_WORDS = ("birth", "dob", "d.o.b", "born")
_BIRTH_LABEL = re.compile(r"date[ _]of[ _]birth|\bd\.?o\.?b\b|\bborn\b|\bbirth", re.I)


def tokens(text: str) -> list[str]:
    """A text's words, split the same way for the details searched for and the documents searched."""
    return text.translate(_SEPARATORS).split()


@dataclass(frozen=True)
class VictimDetails:
    """Every victim's personal details in the form they are searched for.

    `by_tokens` maps a detail's tokens (a name's two words, a postcode's two halves, an address
    line's words, a phone number's digits or its two groups) to the detail as the source writes
    it. `birth_forms` maps each written form of a date of birth (`YYYY-MM-DD`, `DD/MM/YYYY`,
    `D/M/YYYY`) to the ISO date; `births_by_key` maps each identifier of a victim (crime
    reference, victim id, name, phone, postcode, address line) to that victim's dates of birth.
    """

    by_tokens: dict[tuple[str, ...], str]
    birth_forms: dict[str, str]
    births_by_key: dict[str, frozenset[str]]
    first_tokens: frozenset[str]  # the words a detail can start with
    lengths: frozenset[int]  # how many words a detail can have


def victim_details_from_sources(crime_recording_db: Path) -> VictimDetails:
    """The victims' details from the crime recording system's `victims` table (SQLite)."""
    with sqlite3.connect(crime_recording_db) as conn:
        rows = conn.execute(
            "SELECT victim_no, crime_no, forename, surname, date_of_birth, phone, address_line, "
            "postcode FROM victims").fetchall()
        # The crime's local report date: `recorded_at` is local 'YYYY-MM-DD HH:MM:SS' text.
        reported = dict(conn.execute("SELECT crime_no, substr(recorded_at, 1, 10) FROM crimes").fetchall())
    by_tokens: dict[tuple[str, ...], str] = {}
    births: dict[str, set[str]] = defaultdict(set)
    forms: dict[str, str] = {}
    for victim_no, crime_no, forename, surname, dob, phone, address, postcode in rows:
        name = f"{forename} {surname}" if forename and surname else ""
        for detail in (name, phone, address, postcode):
            if detail:
                by_tokens[tuple(tokens(detail))] = detail
        if phone:
            by_tokens[(re.sub(r"\D", "", phone),)] = phone
        if dob:
            year, month, day = dob.split("-")
            forms.update({dob: dob, f"{day}/{month}/{year}": dob,
                          f"{int(day)}/{int(month)}/{year}": dob})
            born_on_report_day = reported.get(crime_no) == dob
            record_keys = () if born_on_report_day else (crime_no, f"V{int(victim_no):07d}")
            for key in (*record_keys, name, phone, postcode, address):
                if key:
                    births[key].add(dob)
    return VictimDetails(by_tokens=by_tokens, birth_forms=forms,
                         births_by_key={key: frozenset(dobs) for key, dobs in births.items()},
                         first_tokens=frozenset(gram[0] for gram in by_tokens),
                         lengths=frozenset(map(len, by_tokens)))


def _identifiers(text: str, details: VictimDetails) -> tuple[set[str], set[str], set[str]]:
    """(the details in `text`, the identifiers of victims in it, the dates of birth written in it).

    One tokenisation; only where a word can start a detail are the following words looked up.
    """
    words = tokens(text)
    unique = set(words)
    starts = unique & details.first_tokens
    found: set[str] = set()
    if starts:
        for i in [i for i, word in enumerate(words) if word in starts]:
            for n in details.lengths:
                detail = details.by_tokens.get(tuple(words[i:i + n]))
                if detail is not None:
                    found.add(detail)
    keys = found | {w for w in unique & details.births_by_key.keys()
                    if _CRIME_REF.fullmatch(w) or _VICTIM_ID.fullmatch(w)}
    dates = {details.birth_forms[w] for w in unique & details.birth_forms.keys()}
    return found, keys, dates


def _standalone_dates(text: str) -> set[str]:
    """Dates not part of a timestamp, as ISO `YYYY-MM-DD` (`DD/MM/YYYY` read the British way)."""
    dates = {f"{y}-{m}-{d}" for y, m, d in _ISO_DATE.findall(text)}
    return dates | {f"{y}-{int(m):02d}-{int(d):02d}" for d, m, y in _UK_DATE.findall(text)}


def _written_forms(iso: str) -> list[str]:
    year, month, day = iso.split("-")
    return [iso, f"{day}/{month}/{year}", f"{int(day)}/{int(month)}/{year}"]


def _birth_dates_in_records(text: str, linked: dict[str, set[str]], labelled: set[str],
                            details: VictimDetails) -> set[str]:
    """The dates of birth that share a record (line) with their victim's identifier or a label.

    `linked` maps each candidate date to the identifiers in the document it belongs to; only the
    lines holding a candidate date are read one by one.
    """
    candidates = linked.keys() | labelled
    forms = {form for iso in candidates for form in _written_forms(iso)}
    found: set[str] = set()
    for line in text.splitlines():
        if forms.isdisjoint(tokens(line)):
            continue
        dates = _standalone_dates(line) & candidates
        if dates and labelled and _BIRTH_LABEL.search(line):
            found |= dates & labelled
        maybe = {iso for iso in dates - found if any(key in line for key in linked.get(iso, ()))}
        if maybe:
            _, keys, _ = _identifiers(line, details)
            found |= {iso for iso in maybe if keys & linked[iso]}
    return found


def details_in(text: str, details: VictimDetails) -> set[str]:
    """The victims' details that appear in one document's text."""
    found, keys, dates = _identifiers(text, details)
    if not dates:
        return found
    linked: dict[str, set[str]] = defaultdict(set)
    for key in keys:
        for iso in details.births_by_key.get(key, frozenset()) & dates:
            linked[iso].add(key)
    lowered = text.lower()
    labelled = dates if any(word in lowered for word in _LABEL_WORDS) and _BIRTH_LABEL.search(text) else set()
    if linked or labelled:
        found |= _birth_dates_in_records(text, linked, labelled, details)
    return found


def leaks_in(documents: Iterable[Document], details: VictimDetails) -> dict[str, set[str]]:
    """Each victim detail found, with the documents it was found in."""
    leaks: dict[str, set[str]] = defaultdict(set)
    for place, text in documents:
        for detail in details_in(text, details):
            leaks[detail].add(place)
    return dict(leaks)


def leaked_victim_details(crime_recording_db: Path, folders: Sequence[Path],
                          warehouse_url: str | None = None) -> dict[str, set[str]]:
    """Every victim detail of the synthetic sources found in the files under `folders` (e-mails
    and their attachments, worksheets, reports, Data Docs, exports) and, when `warehouse_url` is
    given, in every text column of every warehouse table; with where each was found.
    """
    details = victim_details_from_sources(crime_recording_db)
    documents: Iterable[Document] = folder_documents(folders)
    leaks = leaks_in(documents, details)
    if warehouse_url is not None:
        for detail, places in leaks_in(warehouse_documents(warehouse_url), details).items():
            leaks.setdefault(detail, set()).update(places)
    return leaks


def warehouse_record_ids(warehouse_urls: Sequence[str]) -> frozenset[str]:
    """Every pseudonymous victim id and crime reference in the warehouses' `victims` tables."""
    import sqlalchemy as sa

    ids: set[str] = set()
    for url in warehouse_urls:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                for victim_id, crime_ref in conn.execute(sa.text("SELECT victim_id, crime_ref FROM victims")):
                    ids.update(value for value in (victim_id, crime_ref) if value)
        finally:
            engine.dispose()
    return frozenset(ids)


def leaked_victim_ids(folders: Sequence[Path], warehouse_urls: Sequence[str]) -> dict[str, set[str]]:
    """Every victim id or crime reference of the warehouses found in the files under `folders`,
    with where: for outputs that must name no victim and no crime at all (the quarterly returns,
    built to be sent outside the force), where even a pseudonymous id identifies a record."""
    ids = warehouse_record_ids(warehouse_urls)
    leaks: dict[str, set[str]] = defaultdict(set)
    for place, text in folder_documents(folders):
        for found in ids.intersection(tokens(text)):
            leaks[found].add(place)
    return dict(leaks)
