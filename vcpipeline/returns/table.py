"""The return's table: its columns, its Frictionless Table Schema, and the checks a reader runs.

One row per published figure, long format, so every force's file has the same columns whatever
its departments: `section` says what is counted, `measure` which rule/question/reason,
`dimension` and `category` the breakdown. `numerator` / `denominator` are the counts behind
`rate`; an empty count is a suppressed cell (`suppressed` true) and never a zero. Survey rows add
the stratum's population (`population`, N_h), the estimate's `variance` and interval, and the
quarter whose sample they come from (`survey_quarter`). `about` rows carry what the figures rest
on (rule set, fingerprint, as-of instant) in `text`, inside the checksummed bytes.

The schema is written here as JSON (Frictionless Table Schema v1 field types and constraints); the
checker below implements the part of it the return uses, so no validator library is needed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vcpipeline.rules.summaries import decided_obligations

SCHEMA_VERSION = "vcp-return/1"
SECTIONS: tuple[str, ...] = ("about", "compliance", "victims", "agreed_method", "survey", "breakdown",
                             "data_quality")
FORCE_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")
QUARTER = re.compile(r"^\d{4}Q[1-4]$")


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # string | integer | number | boolean
    description: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    minimum: int | None = None


STATUS_COUNTS: tuple[str, ...] = ("due", "met_late", "breached", "pending", "waived")
FIELDS: tuple[Field, ...] = (
    Field("schema_version", "string", "Version of this table's layout.", True, (SCHEMA_VERSION,)),
    Field("force", "string", "The force's code (VCP_FORCE_CODE).", True, pattern=FORCE_CODE.pattern),
    Field("quarter", "string", "The quarter the return is for (local due dates / report dates).", True,
          pattern=QUARTER.pattern),
    Field("section", "string", "What is counted.", True, SECTIONS),
    Field("measure", "string", "Rule, Q1, survey question, quarantine reason, or `about` key.", True),
    Field("dimension", "string", "The breakdown: force, owner, department, age_band, sex, ethnicity, "
          "disability, source.", True),
    Field("category", "string", "The breakdown's category (ALL: the whole force).", True),
    Field("numerator", "integer", "Met on time / compliant victims / updates by agreed method / Yes "
          "answers / rows quarantined. Empty: suppressed.", minimum=0),
    Field("denominator", "integer", "Decided obligations / victims / updates compared / applicable "
          "answers (n). Empty: suppressed.", minimum=0),
    Field("rate", "number", "numerator / denominator; for survey rows the design-weighted estimate."),
    *(Field(name, "integer", f"Obligations {name.replace('_', ' ')} (compliance rows).", minimum=0)
      for name in STATUS_COUNTS),
    Field("population", "integer", "Survey: the stratum's population N_h (crimes in the sampled quarter).",
          minimum=0),
    Field("variance", "number", "Survey: the estimate's variance."),
    Field("ci_lower", "number", "Survey: 95% Korn-Graubard interval, lower end."),
    Field("ci_upper", "number", "Survey: 95% Korn-Graubard interval, upper end."),
    Field("survey_quarter", "string", "Survey: the quarter of the latest published dip sample.",
          pattern=QUARTER.pattern),
    Field("suppressed", "boolean", "A count of this row is withheld by disclosure control.", True),
    Field("text", "string", "`about` rows: the value."),
)
COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS)
KEY: tuple[str, ...] = ("section", "measure", "dimension", "category")


class ReturnError(ValueError):
    """A return that cannot be trusted; the message is one line naming the file and the reason."""


def table_schema() -> dict[str, Any]:
    """The Frictionless Table Schema of a return (JSON-able, keys in a fixed order)."""
    fields = []
    for f in FIELDS:
        entry: dict[str, Any] = {"name": f.name, "type": f.type, "description": f.description}
        constraints: dict[str, Any] = {}
        if f.required:
            constraints["required"] = True
        if f.enum:
            constraints["enum"] = list(f.enum)
        if f.pattern:
            constraints["pattern"] = f.pattern
        if f.minimum is not None:
            constraints["minimum"] = f.minimum
        if constraints:
            entry["constraints"] = constraints
        if f.type == "boolean":
            entry.update(trueValues=["true"], falseValues=["false"])
        fields.append(entry)
    return {
        "$schema": "https://specs.frictionlessdata.io/schemas/table-schema.json",
        "name": "victims-code-quarterly-return",
        "title": "Victims Code quarterly compliance return",
        "version": SCHEMA_VERSION,
        "fields": fields,
        "primaryKey": ["force", "quarter", *KEY],
        "missingValues": [""],
    }


def format_value(value: Any, kind: str) -> str:
    """A value as the CSV spells it: empty for missing, integers plain, numbers to 12 significant
    digits (so a rebuild writes the same bytes), booleans lower case."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if kind == "integer":
        return str(int(value))
    if kind == "number":
        return format(float(value), ".12g")
    if kind == "boolean":
        return "true" if bool(value) else "false"
    return str(value)


def _parse(value: str, f: Field) -> Any:
    if value == "":
        if f.required:
            raise ValueError(f"{f.name} is empty")
        return None
    if f.type == "integer":
        if not re.fullmatch(r"-?\d+", value):
            raise ValueError(f"{f.name} {value!r} is not a whole number")
        number: Any = int(value)
    elif f.type == "number":
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{f.name} {value!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{f.name} {value!r} is not a finite number")
    elif f.type == "boolean":
        if value not in ("true", "false"):
            raise ValueError(f"{f.name} {value!r} is not true or false")
        return value == "true"
    else:
        number = value
    if f.enum and number not in f.enum:
        raise ValueError(f"{f.name} {value!r} is not one of {', '.join(f.enum)}")
    if f.pattern and not re.fullmatch(f.pattern, str(number)):
        raise ValueError(f"{f.name} {value!r} does not match {f.pattern}")
    if f.minimum is not None and number < f.minimum:
        raise ValueError(f"{f.name} {value!r} is below {f.minimum}")
    return number


def check_header(header: list[str], schema: dict[str, Any]) -> None:
    """The CSV's columns are the schema's fields, in order (a missing or extra column is named)."""
    expected = [f["name"] for f in schema.get("fields", [])]
    missing = [name for name in expected if name not in header]
    if missing:
        raise ReturnError(f"missing column {missing[0]}")
    extra = [name for name in header if name not in expected]
    if extra:
        raise ReturnError(f"unexpected column {extra[0]}")
    if header != expected:
        raise ReturnError("columns are not in the schema's order")


def parse_rows(records: list[list[str]]) -> list[dict[str, Any]]:
    """Typed rows, each checked against the fields' types and constraints and for the sums that
    tie its counts together (a number edited by hand breaks one)."""
    rows = []
    keys = set()
    for line, record in enumerate(records, start=2):
        if len(record) != len(FIELDS):
            raise ReturnError(f"line {line} has {len(record)} values, not {len(FIELDS)}")
        try:
            row = {f.name: _parse(value, f) for f, value in zip(FIELDS, record, strict=True)}
            check_row(row)
        except ValueError as exc:
            raise ReturnError(f"line {line}: {exc}") from None
        key = tuple(row[name] for name in KEY)
        if key in keys:
            raise ReturnError(f"line {line}: the row {'/'.join(map(str, key))} appears twice")
        keys.add(key)
        rows.append(row)
    return rows


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def check_row(row: dict[str, Any]) -> None:
    """The sums inside one row: compliance counts add up to `due`, the rate is the counts' rate,
    a suppressed row has an empty count and an unsuppressed count row none."""
    num, den, rate = row["numerator"], row["denominator"], row["rate"]
    if row["section"] == "about":
        return
    if row["suppressed"] != (num is None or den is None) and row["section"] != "survey":
        raise ValueError("suppressed does not match the empty counts")
    if row["section"] == "compliance":
        statuses = [row[name] for name in STATUS_COUNTS]
        if any(value is None for value in statuses) or num is None or den is None:
            raise ValueError("a compliance row needs every status count")
        due, met_late, breached, pending, waived = statuses
        if den != decided_obligations(num, met_late, breached) or due != den + pending + waived:
            raise ValueError("the status counts do not add up to denominator and due")
    if row["section"] != "survey" and num is not None and den is not None:
        if num > den:
            raise ValueError("numerator is larger than denominator")
        expected = num / den if den else None
        if (expected is None) != (rate is None) or (expected is not None and not _close(rate, expected)):
            raise ValueError("rate is not numerator / denominator")
    if row["section"] == "survey" and rate is not None and not 0.0 <= rate <= 1.0:
        raise ValueError("survey estimate outside 0..1")
