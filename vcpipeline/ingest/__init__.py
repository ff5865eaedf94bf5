"""The nightly ingest: extract each source incrementally, validate it, load it as one batch.

- `windows`: what a batch reads, from the run's data interval, the look-back and the watermark
  (SQL) or the processed-files manifest (drops);
- `privacy`: the native personal-data columns, declared once, and the raw rows kept for quarantine;
- `extract`: native frames → canonical frames that remember which native row each came from;
- `checks`: canonical validation (native suites, volume band, canonical suites) and each row's reasons;
- `typed`: validated canonical text rows as the warehouse's typed columns;
- `batches`: a batch's bookkeeping and load (result, upserts, quarantine, files, watermark);
- `replay`: re-processing quarantined rows after a fix, and the quarantine summary;
- `run`: one source's batch end to end (`run_source_batch`), all-or-nothing in the warehouse; it
  calls `replay` once a batch has loaded new crimes (replay uses `checks`, `typed`, `batches`,
  never `run`, so there is no import loop);
- `commands`: `vcp ingest`, `vcp quarantine list|replay`.

A "row" in a batch's reconciliation is a canonical row (a crime, a victim or an event). Every
adapter maps one native row to one canonical row, so it is also a native row read from the source:
rows extracted = rows loaded + rows quarantined, per batch (docs/privacy.md, docs/operations.md).
"""
