"""The synthetic force: four source systems in their native shapes, for demos, tests and benchmarks.

`force.generate_force(ForceSpec(...))` builds the rows in memory, `write.write_force` puts them
where `sources.toml` looks, `summary.measured_rates` measures what they hold. See docs/sources.md.
The generator's parts, in the order they draw from its one seeded generator: `crimes` (the
crimes and victims), `journey` (each victim's journey through the investigation), `native` (the
rows each system holds, made late, corrected or bad by `delivery`); the rates are in
`calibration`, the seconds arithmetic and time formats in `timing`.
"""
