"""Morning e-mails to team leads: new Victims Code breaches and obligations about to fall due.

The pure core (frames in, frames out): `messages` (what an alert e-mail is), `selection` (what
is new, to which lead, the team's compliance rates), `wording` (plain English), and `compose`
(one message per team), rendered with templates loaded once (`render`). `store` is the
warehouse I/O (obligations to alert, the night's batches, the alert log), `reference` the team
leads, `deliver` SMTP (each accepted e-mail logged at once). `run` is the entry point the nightly
task, `vcp alerts` (`commands`) and the tests share.
"""
