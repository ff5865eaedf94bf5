"""Made-up victims' personal details, so tests can prove none of it leaves the adapters.

Small built-in lists, combined at random and vectorised; no Faker. Every value is fictional
(phone numbers in the 07700 900xxx-style drama range are too few, so these are random 07xxx).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FORENAMES: tuple[str, ...] = (
    "Amelia", "Olivia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Grace", "Freya", "Sophia",
    "Aisha", "Fatima", "Zara", "Priya", "Chloe", "Emily", "Ruby", "Evie", "Hannah", "Layla",
    "Oliver", "George", "Noah", "Arthur", "Leo", "Harry", "Oscar", "Jack", "Charlie", "Jacob",
    "Mohammed", "Ibrahim", "Yusuf", "Arjun", "Kieran", "Callum", "Daniel", "Thomas", "Reece", "Tyrone",
)
SURNAMES: tuple[str, ...] = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Khan",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood",
    "Hussain", "Begum", "Ahmed", "Singh", "Kaur", "Clarke", "Jackson", "Hughes", "Edwards", "Turner",
    "Campbell", "Morris", "Kelly", "Murphy", "Bennett", "Cooper", "Harris", "Lewis", "Ward", "Baker",
)
STREETS: tuple[str, ...] = (
    "Church Road", "Station Road", "Victoria Road", "Park Road", "Albert Road", "Queens Road",
    "Manor Road", "Stratford Road", "Coventry Road", "Soho Road", "Lichfield Road", "Alcester Road",
    "Hagley Road", "Bristol Road", "Walsall Road", "Dudley Road", "Warwick Road", "Moseley Road",
    "High Street", "Green Lane", "Mill Lane", "School Lane", "The Crescent", "Chester Road",
)
TOWNS: tuple[tuple[str, str], ...] = (
    ("Birmingham", "B"), ("Coventry", "CV"), ("Wolverhampton", "WV"), ("Walsall", "WS"),
    ("Dudley", "DY"), ("Solihull", "B"), ("West Bromwich", "B"), ("Sutton Coldfield", "B"),
)
_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))


def _pick(rng: np.random.Generator, values: tuple[str, ...], n: int) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object)[rng.integers(0, len(values), n)], dtype="string")


def _digits(rng: np.random.Generator, n: int, width: int) -> pd.Series:
    return pd.Series(rng.integers(0, 10**width, n), dtype="int64").astype("string").str.zfill(width)


def personal_details(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """`n` fictional people: forename, surname, phone, address line, town, postcode."""
    forename = _pick(rng, FORENAMES, n)
    surname = _pick(rng, SURNAMES, n)
    phone = "07" + _digits(rng, n, 3) + " " + _digits(rng, n, 6)
    number = pd.Series(rng.integers(1, 240, n), dtype="int64").astype("string")
    address_line = number + " " + _pick(rng, STREETS, n)
    town_index = rng.integers(0, len(TOWNS), n)
    town = pd.Series(np.array([t for t, _ in TOWNS], dtype=object)[town_index], dtype="string")
    area = pd.Series(np.array([a for _, a in TOWNS], dtype=object)[town_index], dtype="string")
    postcode = (area + pd.Series(rng.integers(1, 80, n), dtype="int64").astype("string") + " "
                + pd.Series(rng.integers(1, 10, n), dtype="int64").astype("string")
                + pd.Series(_LETTERS[rng.integers(0, len(_LETTERS), n)], dtype="string")
                + pd.Series(_LETTERS[rng.integers(0, len(_LETTERS), n)], dtype="string"))
    return pd.DataFrame({
        "forename": forename, "surname": surname, "phone": phone,
        "address_line": address_line, "town": town, "postcode": postcode,
    })
