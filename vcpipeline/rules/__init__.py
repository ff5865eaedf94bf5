"""The Victims Code rules: rule-set data, the data rules (quarantine) and the obligation engine.

Heavy imports stay in the submodules; import what you need from them, e.g.
`from vcpipeline.rules.engine import evaluate` and `from vcpipeline.rules.ruleset import load_rulesets`.
"""
