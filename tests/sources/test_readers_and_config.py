"""The source declaration and the thin readers: watermark windows, drop files with hashes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.errors import InputError
from vcpipeline.sources.config import load_source_config, source_config
from vcpipeline.sources.readers import (
    read_csv_drop,
    read_drop_files,
    read_sql_source,
    read_xlsx_drop,
)


def test_four_sources_are_declared_each_with_an_adapter_and_a_way_to_read_incrementally(tmp_path):
    configs = load_source_config(var=tmp_path)
    assert [(c.name, c.kind) for c in configs] == [
        ("crime_recording", "sql"), ("victim_contact", "sql"),
        ("victim_support", "csv_drop"), ("witness_care", "xlsx_drop")]
    for config in configs:
        assert callable(config.adapter_module().to_canonical)
        assert config.watermark_column and config.lookback.days >= 1
        assert str(tmp_path) in config.connection
        assert (config.kind == "sql") == (config.file_pattern is None)
        assert config.airflow_conn_id or config.kind != "sql"


def test_a_fifth_source_is_one_config_entry_and_one_adapter(tmp_path):
    text = Path(load_source_config.__code__.co_filename).with_name("sources.toml").read_text()
    extra = text + '''
[[sources]]
name = "second_partner"
system = "VS2"
kind = "csv_drop"
adapter = "vcpipeline.sources.victim_support"
connection = "{var}/landing/second_partner"
tables = ["referrals"]
file_pattern = "*.csv"
watermark_column = "Last Updated"
watermark_format = "%d/%m/%Y %H:%M"
watermark_tz = "Europe/London"
lookback_days = 7

[sources.mapping.activity]
"Assessed" = "NEEDS_ASSESSMENT"

[sources.mapping.in_need]
"Y" = "true"
'''
    path = tmp_path / "sources.toml"
    path.write_text(extra)
    fifth = source_config("second_partner", path, var=tmp_path)
    assert fifth.codes("activity") == {"Assessed": "NEEDS_ASSESSMENT"}


def test_a_config_missing_a_field_or_with_an_unknown_kind_is_a_one_line_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[sources]]\nname = "x"\nkind = "ftp"\n')
    with pytest.raises(InputError, match="lacks"):
        load_source_config(path)
    with pytest.raises(InputError, match="not found"):
        load_source_config(tmp_path / "absent.toml")


@pytest.fixture
def crime_db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'crs.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE milestones (milestone_id INTEGER PRIMARY KEY, victim_no INTEGER, modified_at TEXT)")
        conn.exec_driver_sql(
            "INSERT INTO milestones VALUES (1, NULL, '2026-07-01 09:00:00'), (2, 77, '2026-07-01 10:00:00'),"
            " (3, NULL, '2026-07-01 11:00:00')")
    engine.dispose()
    return url


def test_sql_window_is_half_open_on_the_watermark_in_the_sources_own_local_time(crime_db):
    # 09:00Z is 10:00 in London in July: row 2 is the first in the window, row 3 (11:00) the end.
    since = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    until = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    rows = read_sql_source(crime_db, "milestones", since, until)
    assert list(rows["milestone_id"]) == ["2"]
    assert list(rows["victim_no"]) == ["77"]


def test_sql_reader_without_bounds_returns_every_row_as_strings_with_nulls_empty(crime_db):
    rows = read_sql_source(crime_db, "milestones")
    assert list(rows["milestone_id"]) == ["1", "2", "3"]
    assert list(rows["victim_no"]) == ["", "77", ""]
    assert all(str(t) == "string" for t in rows.dtypes)


def test_sql_reader_accepts_a_query_and_text_bounds(crime_db):
    rows = read_sql_source(crime_db, "SELECT milestone_id, modified_at FROM milestones WHERE victim_no IS NULL",
                           since="2026-07-01 10:30:00")
    assert list(rows["milestone_id"]) == ["3"]


def test_sql_reader_reports_a_missing_table_in_one_line(crime_db):
    with pytest.raises(InputError, match="cannot read 'nope'"):
        read_sql_source(crime_db, "nope")


def test_naive_window_bounds_are_refused(crime_db):
    with pytest.raises(ValueError, match="timezone-aware"):
        read_sql_source(crime_db, "milestones", since=datetime(2026, 7, 1))


def test_drop_files_are_listed_in_name_order_with_content_hashes(tmp_path):
    (tmp_path / "referrals_20260702.csv").write_text("a\n1\n")
    (tmp_path / "referrals_20260701_v2.csv").write_text("a\n3\n")
    (tmp_path / "referrals_20260701.csv").write_text("a\n2\n")
    (tmp_path / "notes.txt").write_text("x")
    files = read_drop_files(tmp_path, "referrals_*.csv")
    assert [f.name for f in files] == ["referrals_20260701.csv", "referrals_20260701_v2.csv",
                                       "referrals_20260702.csv"]
    assert files[0].sha256 == hashlib.sha256(b"a\n2\n").hexdigest()
    assert files[0].size == 4


def test_a_missing_landing_folder_or_column_is_a_one_line_error(tmp_path):
    with pytest.raises(InputError, match="landing folder not found"):
        read_drop_files(tmp_path / "absent", "*.csv")
    path = tmp_path / "r.csv"
    path.write_text("Referral Ref\nVS1\n")
    with pytest.raises(InputError, match="Police Crime No"):
        read_csv_drop(path, required=("Referral Ref", "Police Crime No"))


def test_csv_cells_are_kept_verbatim(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("Referral Ref,In Need,Police Victim No\nVS0001,,0077\n")
    frame = read_csv_drop(path)
    assert frame.loc[0].to_dict() == {"Referral Ref": "VS0001", "In Need": "", "Police Victim No": "0077"}


def test_xlsx_datetimes_and_integers_read_back_as_text(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("WCU Updates")
    sheet.append(["WCU ID", "Witness ID", "Event Date", "Court Result"])
    sheet.append([31, None, datetime(2026, 11, 2, 10, 0), "Sentenced"])
    path = tmp_path / "wcu_20261102.xlsx"
    workbook.save(path)
    frame = read_xlsx_drop(path, "WCU Updates")
    assert frame.loc[0].to_dict() == {"WCU ID": "31", "Witness ID": "", "Event Date": "2026-11-02 10:00:00",
                                      "Court Result": "Sentenced"}
    with pytest.raises(InputError, match="no sheet"):
        read_xlsx_drop(path, "Other")
    assert isinstance(frame, pd.DataFrame)
