"""The force's source systems and their adapters to canonical rows.

One adapter module per system (`to_canonical(native, config) -> {"crimes"|"victims"|"events": frame}`),
declared with its connection, watermark and code lists in `sources.toml`. See docs/sources.md.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from vcpipeline.sources.common import concat_canonical
from vcpipeline.sources.config import SourceConfig, load_source_config, source_config

__all__ = ["SourceConfig", "combine_canonical", "load_source_config", "source_config", "to_canonical"]


def to_canonical(native: Mapping[str, pd.DataFrame], config: SourceConfig) -> dict[str, pd.DataFrame]:
    """Native frames of one source → its canonical frames, via the adapter the config names."""
    return config.adapter_module().to_canonical(native, config)


def combine_canonical(parts: list[Mapping[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """The canonical frames of several sources, concatenated kind by kind."""
    return {
        kind: concat_canonical(kind, [part[kind] for part in parts if kind in part])
        for kind in ("crimes", "victims", "events")
    }
