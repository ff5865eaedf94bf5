"""The declaration of the force's source systems (`sources.toml`), loaded into typed configs.

Each source names its kind (`sql` | `csv_drop` | `xlsx_drop`), where it lives, how to read
it incrementally (watermark column / file pattern and a look-back), the adapter module that
maps it to canonical rows, and its native code lists. Keeping the code lists here, as data,
means a renamed code is a config change, and the generator and the adapters cannot disagree.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import ModuleType

from vcpipeline.errors import InputError
from vcpipeline.settings import var_dir

DEFAULT_CONFIG_PATH = Path(__file__).with_name("sources.toml")
SOURCE_KINDS: frozenset[str] = frozenset({"sql", "csv_drop", "xlsx_drop"})


@dataclass(frozen=True)
class SourceConfig:
    """One source system as declared in `sources.toml`."""

    name: str
    system: str                      # short code carried in `source_system` and event ids
    kind: str                        # sql | csv_drop | xlsx_drop
    adapter: str                     # module with `to_canonical(native, config)`
    connection: str                  # SQLAlchemy URL (sql) or landing folder (drops), `{var}` expanded
    tables: tuple[str, ...]          # SQL tables, or the one logical table (sheet) of a drop
    watermark_column: str
    watermark_format: str
    watermark_tz: str
    lookback: timedelta
    airflow_conn_id: str | None = None
    file_pattern: str | None = None
    mapping: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Loaded before the others each night: its crimes must be known when their events are validated.
    load_first: bool = False
    # Per native table: identifier column → the regex its (non-empty) values must fully match.
    identifiers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Per native table: the allow-list of columns a quarantined row keeps → the regex a kept value
    # must fully match (anything else is dropped from `raw_row`).
    quarantine_keep: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def codes(self, name: str) -> Mapping[str, str]:
        """The native → canonical code list `name` (a one-line error if it is not declared)."""
        try:
            return self.mapping[name]
        except KeyError:
            raise InputError(f"source {self.name}: no mapping named {name!r} in sources.toml") from None

    def adapter_module(self) -> ModuleType:
        return importlib.import_module(self.adapter)


_REQUIRED = ("name", "system", "kind", "adapter", "connection", "tables", "watermark_column",
             "watermark_format", "watermark_tz", "lookback_days")


def _shapes(source: str, table: str, key: str, columns: object,
            formats: Mapping[str, str]) -> dict[str, str]:
    """`{column: format name}` of one native table resolved to `{column: regex}` (one-line errors)."""
    if not isinstance(columns, Mapping):
        raise InputError(f"sources.toml: source {source!r} table {table!r}: {key} must be a table")
    out = {}
    for column, name in columns.items():
        if name not in formats:
            raise InputError(f"sources.toml: source {source!r} table {table!r}: {key} names "
                             f"unknown format {name!r} for column {column!r}")
        out[str(column)] = formats[name]
    return out


def _native_tables(entry: Mapping[str, object], formats: Mapping[str, str], key: str
                   ) -> dict[str, dict[str, str]]:
    native = entry.get("native", {})
    assert isinstance(native, Mapping)
    return {str(table): _shapes(str(entry["name"]), str(table), key, spec.get(key, {}), formats)
            for table, spec in native.items()}


def _formats(document: Mapping[str, object], path: Path) -> dict[str, str]:
    """The named value shapes (`[formats]`), each checked to be a valid regex."""
    formats = document.get("formats", {})
    if not isinstance(formats, Mapping):
        raise InputError(f"{path}: [formats] must be a table of name = regex")
    for name, pattern in formats.items():
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise InputError(f"{path}: format {name!r} is not a valid regex: {exc}") from None
    return {str(name): str(pattern) for name, pattern in formats.items()}


def _source_config(entry: Mapping[str, object], var: Path,
                   formats: Mapping[str, str] | None = None) -> SourceConfig:
    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        raise InputError(f"sources.toml: source {entry.get('name', '?')!r} lacks {', '.join(missing)}")
    kind = str(entry["kind"])
    if kind not in SOURCE_KINDS:
        raise InputError(f"sources.toml: source {entry['name']!r} has unknown kind {kind!r}")
    if kind != "sql" and "file_pattern" not in entry:
        raise InputError(f"sources.toml: drop source {entry['name']!r} needs a file_pattern")
    mapping = entry.get("mapping", {})
    assert isinstance(mapping, Mapping)
    return SourceConfig(
        name=str(entry["name"]),
        system=str(entry["system"]),
        kind=kind,
        adapter=str(entry["adapter"]),
        connection=str(entry["connection"]).replace("{var}", var.as_posix()),
        tables=tuple(entry["tables"]),  # type: ignore[arg-type]
        watermark_column=str(entry["watermark_column"]),
        watermark_format=str(entry["watermark_format"]),
        watermark_tz=str(entry["watermark_tz"]),
        lookback=timedelta(days=float(entry["lookback_days"])),  # type: ignore[arg-type]
        airflow_conn_id=entry.get("airflow_conn_id"),  # type: ignore[arg-type]
        file_pattern=entry.get("file_pattern"),  # type: ignore[arg-type]
        mapping={str(k): {str(c): str(v) for c, v in codes.items()} for k, codes in mapping.items()},
        load_first=bool(entry.get("load_first", False)),
        identifiers=_native_tables(entry, formats or {}, "identifiers"),
        quarantine_keep=_native_tables(entry, formats or {}, "quarantine_keep"),
    )


def load_source_config(path: Path | str | None = None, var: Path | None = None) -> list[SourceConfig]:
    """Every source declared in `path` (default: the packaged `sources.toml`).

    `{var}` in connections expands to `var` (default `settings.var_dir()`), so a generated
    force under another folder is read by passing that folder.
    """
    config_path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    if not config_path.is_file():
        raise InputError(f"source config not found: {config_path}")
    with config_path.open("rb") as handle:
        try:
            document = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{config_path}: {exc}") from None
    base = var if var is not None else var_dir()
    formats = _formats(document, config_path)
    configs = [_source_config(entry, base, formats) for entry in document.get("sources", [])]
    names = [config.name for config in configs]
    if len(set(names)) != len(names):
        raise InputError(f"{config_path}: source names must be unique, got {names}")
    return configs


def source_config(name: str, path: Path | str | None = None, var: Path | None = None) -> SourceConfig:
    """The one source called `name`."""
    for config in load_source_config(path, var):
        if config.name == name:
            return config
    raise InputError(f"no source named {name!r} in the source config")
