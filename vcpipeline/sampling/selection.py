"""Drawing the quarterly dip sample: population, permanent random numbers, selection, output.

Population (CONTRACT.md `vcp sample`): crimes whose `reported_at` falls in the quarter by
Europe/London local date and that have at least one victim, minus crimes already sampled
(the exclusion list). Stratum = department.

Permanent random number (PRN) of a crime, for a seed (default: the quarter's name, e.g.
`2026Q1`)::

    digest = sha256((seed + "\\x1f" + crime_ref).encode("utf-8")).digest()
    x      = int.from_bytes(digest[:8], "big")          # uint64
    prn    = (x >> 11) * 2**-53                          # a double, uniform in [0, 1)

`\\x1f` is the ASCII unit separator, so ("ab", "c") and ("a", "bc") never collide. The
top 53 bits make the value exact in a double, so anyone can recompute it in any language.
Within each stratum the n_h crimes with the smallest PRN are selected, ties (which need
two equal 53-bit values) broken by crime_ref in plain string order. The draw therefore
depends only on the seed and the set of (crime_ref, stratum) pairs, never on row order.
The next-ranked crimes form the reserve: replacements, in order, for a sampled crime that
turns out to be unusable for review.

`population_hash` is the sha256 hex digest of the population written one crime per line,
sorted by crime_ref (plain string order), each line `crime_ref + "\\x1f" + stratum + "\\n"`,
UTF-8. It lets an auditor check that a re-draw saw the same population.

Output CSV: the contract columns in order, sorted by stratum then crime_ref; counts as
integers and the two ratios in Python's shortest round-trip form (`repr(float)`: `0.1`,
`0.3333333333333333`, `3.0`), LF line endings, minimal quoting.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vcpipeline.calendar import local_dates
from vcpipeline.canonical import SAMPLE_COLUMNS
from vcpipeline.periods import Period, PeriodError, parse_quarter
from vcpipeline.sampling.allocation import SamplingError, allocate, allocation_table

DEFAULT_SIZE = 240  # the board paper's quarterly minimum of 240 crime reports
DEFAULT_MINIMUM = 10
DEFAULT_RESERVE = 10
_UNIT_SEPARATOR = "\x1f"

RESERVE_COLUMNS: tuple[str, ...] = ("stratum", "rank", "crime_ref", "permanent_random_number")
QUARANTINE_COLUMNS: tuple[str, ...] = ("crime_ref", "reason")


@dataclass(frozen=True)
class Sample:
    """One quarter's draw and everything needed to audit or extend it."""

    quarter: str
    seed: str
    selected: pd.DataFrame      # SAMPLE_COLUMNS, sorted by stratum, crime_ref
    allocation: pd.DataFrame    # one row per stratum, see allocation.allocation_table
    reserve: pd.DataFrame       # RESERVE_COLUMNS: per stratum the next-ranked crimes, rank 1, 2, ...
    population_size: int
    population_hash: str
    excluded: int               # population crimes left out because an earlier sample took them
    quarantine: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(QUARANTINE_COLUMNS), dtype="str"))


def sample_quarter(quarter: str) -> Period:
    """The quarter named `2026Q1` (or `2026q1`); anything else raises SamplingError."""
    try:
        return parse_quarter(quarter)
    except PeriodError as exc:
        raise SamplingError(str(exc)) from None


def quarter_name(quarter: str) -> str:
    """The canonical spelling of a quarter (`2026q1` → `2026Q1`), also the default seed."""
    return sample_quarter(quarter).name


def quarter_bounds(quarter: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) in UTC of the Europe/London local quarter: local midnight to local midnight."""
    return sample_quarter(quarter).bounds


def _arrow_text(values: pd.Series) -> pa.Array:
    """One contiguous Arrow large_string array (pandas may hold several chunks)."""
    array = pa.array(values.astype("str"), type=pa.large_string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def permanent_random_numbers(crime_refs: pd.Series, seed: str) -> np.ndarray:
    """Each crime's PRN in [0, 1) for the seed (formula in the module docstring)."""
    keys = (seed + _UNIT_SEPARATOR + crime_refs.astype("str")).fillna(seed + _UNIT_SEPARATOR)
    # Arrow does the UTF-8 encoding in one go; only the hashing itself is per crime.
    encoded = _arrow_text(keys).cast(pa.large_binary()).to_numpy(zero_copy_only=False)
    sha256 = hashlib.sha256
    digests = b"".join([sha256(key).digest()[:8] for key in encoded])
    top = np.frombuffer(digests, dtype=">u8").astype(np.uint64) >> np.uint64(11)
    return top.astype(np.float64) * 2.0**-53


def population_hash(population: pd.DataFrame) -> str:
    """sha256 of the sorted (crime_ref, stratum) lines (format in the module docstring)."""
    refs, strata = _arrow_text(population["crime_ref"]), _arrow_text(population["stratum"])
    order = pc.sort_indices(refs)
    lines = pc.binary_join_element_wise(refs.take(order), strata.take(order),
                                        pa.scalar(_UNIT_SEPARATOR, pa.large_string()))
    lines = pc.binary_join_element_wise(lines, pa.scalar("", pa.large_string()),
                                        pa.scalar("\n", pa.large_string()))
    digest = hashlib.sha256()
    if len(lines):  # the lines sit end to end in Arrow's value buffer: hash it in place
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
        first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
        digest.update(memoryview(lines.buffers()[2])[first:last])
    return digest.hexdigest()


def _text(values: pd.Series) -> pd.Series:
    return values.astype("str").str.strip().fillna("")


def _is_in(values: pd.Series, candidates: pd.Series) -> np.ndarray:
    """Membership test in Arrow: pandas' own `isin` on Arrow strings converts candidates one by one."""
    found = pc.is_in(_arrow_text(values), value_set=_arrow_text(candidates).unique())
    return found.to_numpy(zero_copy_only=False).astype(bool)


def _refs(values: Iterable[str]) -> pd.Series:
    """Crime references from any iterable, trimmed like the crimes' own."""
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="str")
    return _text(series)


def usable_crimes(crimes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(usable crimes, quarantine): drop rows the sample cannot place, with the reason.

    A row without crime_ref, department or a valid reported_at is unusable; so are all rows
    of a crime_ref listed twice with different department or reported_at, because picking
    one would make the draw depend on row order. Exact repeats collapse to one row.
    """
    frame = pd.DataFrame({
        "crime_ref": _text(crimes["crime_ref"]),
        "department": _text(crimes["department"]),
        "reported_at": crimes["reported_at"],
    })
    no_ref = (frame["crime_ref"] == "").to_numpy()
    no_department = (frame["department"] == "").to_numpy()
    unusable = no_ref | no_department | frame["reported_at"].isna().to_numpy()
    quarantined = [pd.DataFrame({
        "crime_ref": frame["crime_ref"][unusable],
        "reason": np.where(no_ref[unusable], "crime_ref missing",
                           np.where(no_department[unusable], "department missing",
                                    "reported_at missing or unparseable")),
    })]
    clean = frame[~unusable]
    repeated = clean["crime_ref"].duplicated(keep=False).to_numpy()
    if repeated.any():  # rare, so only the repeated refs are settled
        repeats = clean[repeated].drop_duplicates()
        conflicting = repeats["crime_ref"].duplicated(keep=False).to_numpy()
        quarantined.append(pd.DataFrame({
            "crime_ref": repeats["crime_ref"][conflicting],
            "reason": "crime_ref listed twice with different department or reported_at",
        }))
        clean = pd.concat([clean[~repeated], repeats[~conflicting]])
    quarantine = pd.concat(quarantined, ignore_index=True).astype("str")
    return clean.reset_index(drop=True), quarantine


def quarter_population(crimes: pd.DataFrame, victims_crime_refs: Iterable[str], quarter: str,
                       exclude: Iterable[str] = ()) -> tuple[pd.DataFrame, int]:
    """(population as crime_ref, stratum; how many were dropped by `exclude`) for usable crimes."""
    in_quarter = sample_quarter(quarter).contains(local_dates(crimes["reported_at"]))
    with_victim = _is_in(crimes["crime_ref"], _refs(victims_crime_refs))
    candidates = crimes.loc[in_quarter & with_victim, ["crime_ref", "department"]]
    excluded = _is_in(candidates["crime_ref"], _refs(exclude))
    population = candidates[~excluded].rename(columns={"department": "stratum"})
    return population.reset_index(drop=True), int(excluded.sum())


def stratum_ranks(strata: np.ndarray, prn: np.ndarray, crime_refs: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(order, rank): row positions sorted by stratum code, PRN, crime_ref; 0-based rank in stratum.

    `strata` are small integer codes and each PRN is a whole number of 2**-53, so
    (code << 53) | PRN·2**53 is one exact uint64 sort key. Two equal PRNs in one stratum
    are so rare that the crime_ref tie-break is only paid for when it is needed.
    """
    key = (strata.astype(np.uint64) << np.uint64(53)) | (prn * 2.0**53).astype(np.uint64)
    order = np.argsort(key)  # without ties the order is unique, so no need for a stable sort
    ordered = key[order]
    if np.any(ordered[1:] == ordered[:-1]):
        ref_codes, _ = pd.factorize(crime_refs, sort=True)
        order = np.lexsort((ref_codes, key))
    ordered_strata = strata[order]
    rank = np.arange(len(order)) - np.searchsorted(ordered_strata, ordered_strata, side="left")
    return order, rank


def draw_sample(crimes: pd.DataFrame, victims_crime_refs: Iterable[str], quarter: str,
                size: int = DEFAULT_SIZE, minimum: int = DEFAULT_MINIMUM, seed: str | None = None,
                exclude: Iterable[str] = (), reserve_size: int = DEFAULT_RESERVE) -> Sample:
    """Draw the quarter's stratified dip sample.

    `crimes` has crime_ref, department and reported_at (UTC instants; NaT allowed and
    quarantined); `victims_crime_refs` are the crime_refs of victims.csv rows; `exclude` the
    crime_refs of earlier samples. Raises SamplingError for a bad quarter or an impossible
    allocation (Σ min(m, N_h) > n).
    """
    name = quarter_name(quarter)
    seed = name if seed is None else seed
    if size < 0 or minimum < 0:
        raise SamplingError("the sample size and the minimum per stratum must not be negative")
    usable, quarantine = usable_crimes(crimes)
    population, excluded = quarter_population(usable, victims_crime_refs, name, exclude)
    codes, names = pd.factorize(population["stratum"], sort=True)
    stratum_sizes = pd.Series(np.bincount(codes, minlength=len(names)), index=pd.Index(names, name="stratum"),
                              dtype="int64", name="stratum_population")
    n = min(size, len(population))
    sample_sizes = allocate(stratum_sizes, n, minimum).to_numpy()
    table = allocation_table(stratum_sizes, n, minimum)

    prn = permanent_random_numbers(population["crime_ref"], seed)
    order, rank = stratum_ranks(codes, prn, population["crime_ref"])
    quota = sample_sizes[codes[order]]
    chosen = order[rank < quota]
    spare = (rank >= quota) & (rank < quota + reserve_size)

    by_stratum = table.set_index("stratum")
    selected = population.iloc[chosen].sort_values(["stratum", "crime_ref"], kind="stable", ignore_index=True)
    for column in SAMPLE_COLUMNS[2:]:
        selected[column] = selected["stratum"].map(by_stratum[column]).to_numpy()
    reserve = population.iloc[order[spare]].reset_index(drop=True)
    reserve = pd.DataFrame({
        "stratum": reserve["stratum"],
        "rank": (rank[spare] - quota[spare] + 1).astype("int64"),
        "crime_ref": reserve["crime_ref"],
        "permanent_random_number": prn[order[spare]],
    })
    return Sample(
        quarter=name, seed=seed, selected=selected[list(SAMPLE_COLUMNS)], allocation=table,
        reserve=reserve, population_size=len(population),
        population_hash=population_hash(population), excluded=excluded, quarantine=quarantine,
    )


def sample_csv(selected: pd.DataFrame) -> str:
    """The contract's sample CSV text (floats in repr form, LF endings, minimal quoting)."""
    text = pd.DataFrame({
        "crime_ref": selected["crime_ref"].astype("str"),
        "stratum": selected["stratum"].astype("str"),
        "stratum_population": selected["stratum_population"].astype("int64").astype("str"),
        "stratum_sample_size": selected["stratum_sample_size"].astype("int64").astype("str"),
        "selection_probability": [repr(float(v)) for v in selected["selection_probability"]],
        "design_weight": [repr(float(v)) for v in selected["design_weight"]],
    }, columns=list(SAMPLE_COLUMNS))
    buffer = io.StringIO()
    text.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()
