"""What a batch reads: SQL windows, drop files, nightly intervals (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from vcpipeline.ingest.checks import volume_failure
from vcpipeline.ingest.windows import (
    ProcessedFile,
    file_ready_at,
    files_to_process,
    nightly_intervals,
    sql_window,
)
from vcpipeline.sources.readers import DropFile

START = datetime(2026, 7, 5, 1, tzinfo=UTC)
END = datetime(2026, 7, 6, 1, tzinfo=UTC)
LOOKBACK = timedelta(days=3)


def _drop(name: str, sha: str = "a") -> DropFile:
    return DropFile(path=Path(name), name=name, sha256=sha, size=1)


def test_first_batch_of_a_source_reads_everything_before_the_interval_end():
    window = sql_window(START, END, LOOKBACK, first_batch=True)
    assert window.full and window.since is None and window.until == END


def test_later_batch_reads_its_interval_plus_the_lookback():
    window = sql_window(START, END, LOOKBACK, first_batch=False, watermark=START - timedelta(minutes=5))
    assert (window.since, window.until) == (START - LOOKBACK, END)


def test_a_watermark_older_than_the_lookback_means_a_gap_and_is_caught_up():
    watermark = START - timedelta(days=6)
    window = sql_window(START, END, LOOKBACK, first_batch=False, watermark=watermark)
    assert window.since == watermark - LOOKBACK


def test_a_later_watermark_never_narrows_a_rerun_of_an_older_night():
    window = sql_window(START, END, LOOKBACK, first_batch=False, watermark=END + timedelta(days=9))
    assert window.since == START - LOOKBACK


def test_a_drop_file_is_ready_at_local_midnight_after_its_day():
    assert file_ready_at(_drop("referrals_20260705.csv")) == datetime(2026, 7, 5, 23, tzinfo=UTC)
    assert file_ready_at(_drop("wcu_20260105_v2.xlsx")) == datetime(2026, 1, 6, 0, tzinfo=UTC)


def test_unprocessed_ready_files_are_read_and_future_ones_wait():
    files = [_drop("referrals_20260704.csv"), _drop("referrals_20260705.csv"),
             _drop("referrals_20260706.csv")]
    chosen = files_to_process(files, END, {}, "VS:x")
    assert [f.name for f in chosen] == ["referrals_20260704.csv", "referrals_20260705.csv"]


def test_an_unchanged_processed_file_is_skipped_and_a_changed_one_is_read_again():
    files = [_drop("referrals_20260704.csv", "same"), _drop("referrals_20260705.csv", "new")]
    manifest = {"referrals_20260704.csv": ProcessedFile("same", "VS:earlier"),
                "referrals_20260705.csv": ProcessedFile("old", "VS:earlier")}
    assert [f.name for f in files_to_process(files, END, manifest, "VS:now")] == ["referrals_20260705.csv"]


def test_a_rerun_reads_again_the_files_its_own_batch_processed():
    files = [_drop("referrals_20260704.csv", "same")]
    manifest = {"referrals_20260704.csv": ProcessedFile("same", "VS:now")}
    assert [f.name for f in files_to_process(files, END, manifest, "VS:now")] == ["referrals_20260704.csv"]


def test_a_redelivery_is_read_after_its_original():
    files = [_drop("referrals_20260704_v2.csv"), _drop("referrals_20260704.csv")]
    assert [f.name for f in files_to_process(files, END, {}, "b")] == [
        "referrals_20260704.csv", "referrals_20260704_v2.csv"]


def test_nightly_intervals_tile_local_days_across_the_clock_change():
    start = datetime(2026, 3, 28, 2, tzinfo=UTC)  # 02:00 GMT, Saturday before BST starts
    nights = nightly_intervals(start, datetime(2026, 3, 30, 1, tzinfo=UTC))
    assert [(b - a).total_seconds() / 3600 for a, b in nights] == [23, 24]
    assert nights[0][1] == nights[1][0]


def test_too_few_rows_against_recent_nights_fails_with_how_far_below():
    message = volume_failure(100, [1_000, 1_100, 1_200], tolerance=0.2)
    assert message is not None and "100 rows, expected 800–1,440 from the last 3 nights" in message
    assert "(88% below the band)" in message
    assert volume_failure(600, [1_000, 1_100, 1_200]) is None  # default: half the quietest night
    assert volume_failure(5_000, [1_000, 1_100, 1_200]) is None  # a catch-up, not a broken feed
    assert volume_failure(0, [5, 6]) is None  # too few nights to judge


def test_window_from_airflow_pendulum_interval_compares_with_a_stored_watermark():
    # Airflow hands tasks pendulum DateTimes; arithmetic on them after astimezone() drops the zone.
    import pendulum

    start = pendulum.datetime(2026, 10, 9, 2, tz="Europe/London")
    end = pendulum.datetime(2026, 10, 10, 2, tz="Europe/London")
    watermark = datetime(2026, 10, 1, 0, 41, tzinfo=UTC)
    window = sql_window(start, end, timedelta(days=3), first_batch=False, watermark=watermark)
    assert window.since == watermark - timedelta(days=3)
    assert window.until == datetime(2026, 10, 10, 1, tzinfo=UTC)
