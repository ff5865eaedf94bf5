"""Validation of source extracts and canonical rows with Great Expectations (GX 1.x).

- `suites`: the expectation suites kept as JSON in `expectations/` (batch vs row level in meta);
- `validate`: `validate_batch(frame, suite_name, ...)` → `BatchValidation` (batch failures that
  stop the load, row failures to quarantine with their reasons, GX's result for Data Docs);
- `frame`: the frame GX validates (parsed instants, known crimes and victims, repeated rows);
- `failures`: batch failures in words and each failing row's reasons;
- `docs`: `build_data_docs(validations, folder)` → static, offline HTML;
- `gx`: the only module that imports GX, lazily and quietly (DAG parsing never pays for it).

Nothing here imports GX at module top.
"""
