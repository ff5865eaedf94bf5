"""The synthetic force: four source systems in their native shapes, for demos, tests and benchmarks.

`force.generate_force(ForceSpec(...))` builds the rows in memory, `write.write_force` puts them
where `sources.toml` looks, `summary.measured_rates` measures what they hold. See docs/sources.md.
"""
