"""Morning e-mails to team leads: new Victims Code breaches and obligations about to fall due.

`reference` (who leads which team) → `compose` (pure: obligations → one message per team) →
`deliver` (SMTP, each accepted e-mail logged at once) with `log` (what was already alerted).
`run` wires them for the CLI (`vcp alerts`) and the nightly DAG.
"""
