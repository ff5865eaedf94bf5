"""Loading batches writes one Data Docs site: a folder per source and, at the top, one index of every night."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.ingest.conftest import FIRST_NIGHT, configs, force_root, generated  # noqa: F401 (fixtures)
from vcpipeline.ingest.run import run_source_batch
from vcpipeline.ingest.windows import nightly_intervals


def test_two_sources_two_nights_are_listed_in_one_top_level_index_newest_night_first(configs, engine,  # noqa: F811
                                                                                      tmp_path):
    site = tmp_path / "out" / "data_docs"
    chosen = [configs[0], configs[2]]  # crime_recording, victim_support
    for start, end in nightly_intervals(FIRST_NIGHT - timedelta(days=1), FIRST_NIGHT + timedelta(days=1)):
        for config in chosen:
            result = run_source_batch(config, start, end, engine, configs=configs, data_docs=site)
            assert result.status == "succeeded"
    index = (site / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr><td>[^<]*</td><td>([a-z_]+)</td><td>([A-Z]+)_\w+-(\d{8}T\d{6}Z)</td>", index)
    assert {(source, code) for source, code, _ in rows} == {("crime_recording", "CRS"), ("victim_support", "VS")}
    ends = [end for _, _, end in rows]
    assert len(set(ends)) == 2 and ends == sorted(ends, reverse=True)  # both nights kept, newest first
    for href in re.findall(r'href="([^"]+\.html)"', index):
        assert (site / href).is_file(), href
    assert (site / "crime_recording" / "index.html").is_file() and (site / "victim_support" / "index.html").is_file()
