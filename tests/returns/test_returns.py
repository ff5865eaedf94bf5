"""The quarterly return: rebuilt byte for byte, no victim in it, refused when tampered with, and
combined from counts with the suppression kept."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.returns.combine import TOTAL, combine_returns, survey_totals
from vcpipeline.returns.files import verify_return
from vcpipeline.returns.run import build_return, combine_files
from vcpipeline.returns.table import KEY, ReturnError

QUARTER = "2026Q1"  # as tests/returns/conftest.py builds the returns


def _files(manifest: Path) -> dict[str, bytes]:
    stem = manifest.name.removesuffix(".manifest.json")
    return {path.name: path.read_bytes() for path in sorted(manifest.parent.glob(f"{stem}.*"))}


def test_return_is_byte_identical_when_rebuilt_from_the_same_warehouse(warehouse_a, returns_dir, tmp_path):
    first = returns_dir["AAA"]
    again = build_return(warehouse_a, QUARTER, "AAA", tmp_path / "fresh")
    assert _files(again) == _files(first)
    same_folder = tmp_path / "same"
    shutil.copytree(first.parent, same_folder)
    rebuilt = build_return(warehouse_a, QUARTER, "AAA", same_folder)
    assert rebuilt.name.endswith("-v1.manifest.json"), "an unchanged rebuild keeps its issue"
    assert _files(rebuilt) == _files(first)
    assert len(list(same_folder.glob("*.manifest.json"))) == 1


@pytest.mark.postgres
def test_the_same_force_gives_the_same_return_bytes_on_postgresql(postgres_warehouse_a, returns_dir, tmp_path):
    rebuilt = build_return(postgres_warehouse_a, QUARTER, "AAA", tmp_path / "pg")
    assert _files(rebuilt) == _files(returns_dir["AAA"])


def test_a_changed_return_is_issued_as_the_next_version(returns_dir, tmp_path):
    folder = tmp_path / "issues"
    shutil.copytree(returns_dir["AAA"].parent, folder)
    manifest = next(folder.glob("*.manifest.json"))
    document = json.loads(manifest.read_text())
    document["csv_sha256"] = "0" * 64  # the earlier issue's CSV differed (e.g. before the survey)
    manifest.write_text(json.dumps(document))
    from vcpipeline.returns.files import next_issue

    assert next_issue(folder, "AAA", QUARTER, hashlib.sha256(b"new").hexdigest()) == 2


def test_no_victim_id_or_crime_ref_in_a_return(warehouse_a, returns_dir):
    engine = sa.create_engine(warehouse_a)
    with engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT victim_id, crime_ref FROM victims")).all()
    engine.dispose()
    texts = {name: data.decode("utf-8") for name, data in _files(returns_dir["AAA"]).items()}
    assert ids
    header = texts[returns_dir["AAA"].name.replace(".manifest.json", ".csv")].splitlines()[0].split(",")
    assert not {"victim_id", "crime_ref", "pseudonym"} & set(header)
    for name, text in texts.items():
        leaked = [v for pair in ids for v in pair if len(v) >= 6 and v in text]
        assert not leaked, f"{name} carries {leaked[:3]}"


def test_every_suppressed_cell_travels_as_empty_and_every_rate_comes_from_its_counts(returns_dir):
    rows = verify_return(returns_dir["AAA"]).rows  # checks each row's rate against its counts
    suppressed = [r for r in rows if r["suppressed"]]
    assert suppressed, "the fixture force has small cells"
    assert all(r["numerator"] is None or r["denominator"] is None for r in suppressed)
    assert all(r["rate"] is None for r in suppressed)
    threshold = int(verify_return(returns_dir["AAA"]).manifest["disclosure_threshold"])
    victims = [r for r in rows if r["section"] in ("victims", "breakdown") and not r["suppressed"]]
    assert all(r["numerator"] >= threshold and r["denominator"] >= threshold
               and r["denominator"] - r["numerator"] >= threshold for r in victims if r["category"] != "ALL")


def _combined(returns_dir, tmp_path) -> pd.DataFrame:
    page = combine_files([returns_dir["AAA"], returns_dir["BBB"]], tmp_path / "combined")
    assert page.exists()
    return pd.read_csv(page.with_suffix(".csv"), keep_default_na=False, dtype=str)


def test_combined_totals_are_the_sum_of_the_forces_published_counts_partial_where_one_was_withheld(
        returns_dir, tmp_path):
    combined = _combined(returns_dir, tmp_path)
    published = pd.DataFrame([r for f in ("AAA", "BBB") for r in verify_return(returns_dir[f]).rows])
    published = published[~published["section"].isin(["about", "survey"])]
    totals = combined[combined["force"] == TOTAL].set_index(list(KEY))
    checked = partial = 0
    for key, group in published.groupby(list(KEY)):
        total = totals.loc[key]
        withheld = group["numerator"].isna().any() or group["denominator"].isna().any()
        assert (total["partial"] == "true") == withheld, key
        for name in ("numerator", "denominator"):
            known = group[name].dropna()
            expected = str(int(known.sum())) if len(known) else ""
            assert total[name] == expected, (key, name)
        if withheld:
            partial += 1
            assert total["rate"] == "", "a partial total has no rate"
        else:
            num, den = int(total["numerator"]), int(total["denominator"])
            assert den == 0 or math.isclose(float(total["rate"]), num / den, rel_tol=1e-9)
        checked += 1
    assert checked > 50 and partial > 0
    page = (tmp_path / "combined" / "combined-2026Q1.html").read_text()
    assert "(partial)" in page and "[c]" in page and "AAA" in page and "BBB" in page


def test_a_suppressed_cell_cannot_be_recovered_from_the_combination(returns_dir, tmp_path):
    alone = verify_return(returns_dir["AAA"]).rows
    combined = combine_returns([alone, verify_return(returns_dir["BBB"]).rows])
    totals = combined[combined["force"] == TOTAL]
    for row in (r for r in alone if r["suppressed"]):
        key = tuple(row[name] for name in KEY)
        total = totals[(totals[list(KEY)] == pd.Series(key, index=list(KEY))).all(axis=1)].iloc[0]
        others = combined[(combined[list(KEY)] == pd.Series(key, index=list(KEY))).all(axis=1)
                          & ~combined["force"].isin(["AAA", TOTAL])]
        for name in ("numerator", "denominator"):
            if row[name] is None:  # the total holds only what the other forces published
                known = others[name].dropna()
                assert (pd.isna(total[name]) and len(known) == 0) or int(total[name]) == int(known.sum())
        assert bool(total["partial"]) and math.isnan(total["rate"])
    # Alone, a line (a breakdown or Q1 by department) never has exactly one withheld figure, so
    # its published total less its published cells gives no single withheld cell back.
    only = combine_returns([alone])
    only = only[(only["force"] == TOTAL) & only["section"].isin(["victims", "breakdown"])]
    for (_, dimension), line in only.groupby(["section", "dimension"]):
        for name in ("numerator", "denominator"):
            hidden = int(line[name].isna().sum())
            assert hidden != 1, (dimension, name)


def test_survey_measures_combine_as_independent_strata():
    def row(force, population, estimate, variance, applicable):
        return {"section": "survey", "measure": "Q3", "dimension": "force", "category": "ALL", "force": force,
                "numerator": round(estimate * applicable) if applicable else 0, "denominator": applicable, "rate": estimate,
                "population": population, "variance": variance, "ci_lower": None, "ci_upper": None,
                "survey_quarter": QUARTER, "suppressed": False}

    rows = pd.DataFrame([row("A", 100, 0.5, 0.01, 40), row("B", 300, 0.9, 0.004, 60)])
    total = survey_totals(rows).iloc[0]
    assert math.isclose(total["rate"], (100 * 0.5 + 300 * 0.9) / 400)
    assert math.isclose(total["variance"], 0.25**2 * 0.01 + 0.75**2 * 0.004)
    assert total["ci_lower"] < total["rate"] < total["ci_upper"]
    assert total["denominator"] == 100 and total["population"] == 400 and not total["partial"]
    missing = survey_totals(pd.DataFrame([row("A", 100, 0.5, 0.01, 40), row("B", 300, math.nan, math.nan, 0)]))
    assert missing.iloc[0]["partial"] and math.isclose(missing.iloc[0]["rate"], 0.5)
    unsurveyed = survey_totals(pd.DataFrame([row("A", 100, 0.5, 0.01, 40)]), forces=2)  # B published none
    assert unsurveyed.iloc[0]["partial"]


# --- refusing what cannot be trusted --------------------------------------------------------------

def _copy(manifest: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    stem = manifest.name.removesuffix(".manifest.json")
    for path in manifest.parent.glob(f"{stem}.*"):
        shutil.copy(path, folder / path.name)
    return folder / manifest.name


def _rewrite_csv(manifest: Path, change, *, reseal: bool) -> None:
    document = json.loads(manifest.read_text())
    path = manifest.parent / document["csv"]
    records = list(csv.reader(io.StringIO(path.read_text())))
    records = change(records)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(records)
    path.write_bytes(buffer.getvalue().encode())
    if reseal:  # whoever edited it also fixed the checksum
        document["csv_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        manifest.write_text(json.dumps(document))


def _edit_number(records):
    header = records[0]
    for record in records[1:]:
        if record[header.index("section")] == "compliance":
            record[header.index("numerator")] = str(int(record[header.index("numerator")]) + 1)
            return records
    raise AssertionError("no compliance row")


def _drop_column(records):
    at = records[0].index("ci_upper")
    return [record[:at] + record[at + 1:] for record in records]


def _edit_manifest(manifest: Path, **changes) -> None:
    document = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**document, **changes}))


TAMPERING = {
    "edited number": (lambda m: _rewrite_csv(m, _edit_number, reseal=False), "checksum mismatch"),
    "edited number, checksum recomputed": (lambda m: _rewrite_csv(m, _edit_number, reseal=True),
                                           "do not add up"),
    "wrong checksum": (lambda m: _edit_manifest(m, csv_sha256="f" * 64), "checksum mismatch"),
    "missing column": (lambda m: _rewrite_csv(m, _drop_column, reseal=True), "missing column ci_upper"),
    "other schema version": (lambda m: _edit_manifest(m, schema_version="vcp-return/2"), "schema version"),
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_a_tampered_return_is_refused_with_a_one_line_reason(returns_dir, tmp_path, capsys, tampering):
    from vcpipeline.cli import main

    change, reason = TAMPERING[tampering]
    manifest = _copy(returns_dir["AAA"], tmp_path / "tampered")
    change(manifest)
    with pytest.raises(ReturnError, match=reason):
        verify_return(manifest)
    code = main(["return", "combine", str(manifest), str(returns_dir["BBB"]), "--out", str(tmp_path / "c")])
    error = capsys.readouterr().err
    assert code == 2 and reason in error and manifest.name in error
    assert error.count("\n") == 1, error
    assert not (tmp_path / "c").exists()


def test_combining_refuses_mixed_schema_versions_and_a_force_quarter_given_twice(returns_dir, tmp_path):
    with pytest.raises(ReturnError, match=r"^duplicate force/quarter AAA 2026Q1"):
        combine_files([returns_dir["AAA"], returns_dir["AAA"]], tmp_path / "twice")
    other = _copy(returns_dir["BBB"], tmp_path / "other")
    _edit_manifest(other, schema_version="vcp-return/2")
    with pytest.raises(ReturnError, match=r"^mixed schema versions"):
        combine_files([returns_dir["AAA"], other], tmp_path / "mixed")


def test_vcp_return_writes_the_return_and_needs_a_force_code(warehouse_b, tmp_path, capsys, monkeypatch):
    from vcpipeline.cli import main

    monkeypatch.delenv("VCP_FORCE_CODE", raising=False)
    assert main(["return", "--quarter", QUARTER, "--url", warehouse_b, "--out", str(tmp_path)]) == 2
    assert "VCP_FORCE_CODE" in capsys.readouterr().err
    monkeypatch.setenv("VCP_FORCE_CODE", "CCC")
    assert main(["return", "--quarter", QUARTER, "--url", warehouse_b, "--out", str(tmp_path)]) == 0
    printed = Path(capsys.readouterr().out.strip())
    assert printed.name == f"victims-code-return-CCC-{QUARTER}-v1.manifest.json"
    assert verify_return(printed).manifest["force"] == "CCC"
    html = printed.with_name(printed.name.replace(".manifest.json", ".html")).read_text()
    assert "CCC" in html and "[c]" in html


# The parts of the Frictionless Table Schema (v1) a return's schema uses, as a JSON Schema.
TABLE_SCHEMA_ESSENTIALS = {
    "type": "object", "required": ["fields"],
    "properties": {
        "fields": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "type"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "type": {"enum": ["string", "number", "integer", "boolean", "date", "datetime"]},
                "description": {"type": "string"},
                "constraints": {"type": "object", "additionalProperties": False, "properties": {
                    "required": {"type": "boolean"}, "enum": {"type": "array"},
                    "pattern": {"type": "string"}, "minimum": {"type": "number"}}},
                "trueValues": {"type": "array", "items": {"type": "string"}},
                "falseValues": {"type": "array", "items": {"type": "string"}},
            }, "additionalProperties": False}},
        "primaryKey": {"type": "array", "items": {"type": "string"}},
        "missingValues": {"type": "array", "items": {"type": "string"}},
    },
}


def test_the_schema_file_is_a_table_schema_naming_every_column_of_the_csv(returns_dir):
    jsonschema = pytest.importorskip("jsonschema")
    schema = verify_return(returns_dir["AAA"]).manifest["schema"]
    document = json.loads((returns_dir["AAA"].parent / schema).read_text())
    jsonschema.validate(document, TABLE_SCHEMA_ESSENTIALS)
    header = returns_dir["AAA"].with_name(returns_dir["AAA"].name.replace(".manifest.json", ".csv")) \
        .read_text().splitlines()[0].split(",")
    assert [f["name"] for f in document["fields"]] == header
    assert set(document["primaryKey"]) <= set(header)


def test_vcp_return_combine_writes_the_combined_table_and_page(returns_dir, tmp_path, capsys):
    from vcpipeline.cli import main

    code = main(["return", "combine", str(returns_dir["AAA"]), str(returns_dir["BBB"].with_suffix("").with_suffix(
        ".csv")), "--out", str(tmp_path / "region")])
    assert code == 0
    page = Path(capsys.readouterr().out.strip())
    assert page == tmp_path / "region" / f"combined-{QUARTER}.html" and page.with_suffix(".csv").exists()
