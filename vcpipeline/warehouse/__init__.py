"""The warehouse: schema and migrations, idempotent loading in batches, quarantine, typed reads.

Callers import from the submodules (`db`, `migrate`, `load`, `frames`, `schema`), which keep
SQLAlchemy and pandas out of `vcp --help`.
"""
