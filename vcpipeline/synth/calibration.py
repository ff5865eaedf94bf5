"""The synthetic force's calibration: how often each thing happens, and how messy the rows are.

Rates are calibrated to the board paper by reporting department (the stratum): needs
referral within 2 days ≈33 % when Force Response took the report and near 100 % for Force
Contact / IIT, updates on time ≈80 %, outcomes communicated ≈91 %, acknowledgements ≈100 %,
VPS offered for charged cases ≈100 %, VPS use reported back ≈91 %. Version 2's victim choices:
most victims agree a contact plan at first contact, a few opt out and some of those back in, and
the board paper's "primary concern", victims who asked for phone calls getting e-mails, shows as
an agreed-method share visibly below 100 %. What the data really holds is measured afterwards by
`synth.summary` through the real rule engine, not assumed.

Deadlines, the 2021 cut-over and which outcomes oblige a notification are not here: they are the
rule-set data's (`rules/rulesets.toml`, read through `synth.timing.RuleDeadlines`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# --- the force's crimes and victims ---------------------------------------------------------
DEPARTMENT_SHARE: Mapping[str, float] = {
    "FORCE_CONTACT": 0.24, "FORCE_RESPONSE": 0.26, "IIT": 0.14, "VVA": 0.12, "PPU": 0.10,
    "CRIMINAL_JUSTICE": 0.05, "WITNESS_CARE": 0.04, "RESTORATIVE_JUSTICE": 0.05,
}
OFFENCE_SHARE: Mapping[str, float] = {
    "theft": 0.24, "burglary": 0.09, "criminal_damage": 0.12, "assault": 0.20, "fraud": 0.07,
    "vehicle_crime": 0.09, "robbery": 0.03, "public_order": 0.08, "sexual_offence": 0.03,
    "gbh_with_intent": 0.015, "attempted_murder": 0.002, "homicide": 0.001, "terrorism": 0.0005,
    "human_trafficking": 0.001, "kidnap": 0.002, "false_imprisonment": 0.002,
    "arson_endangering_life": 0.003,
}
# Public protection owns most sexual and domestic offences.
PPU_OFFENCE_SHARE: Mapping[str, float] = {
    "sexual_offence": 0.35, "assault": 0.35, "criminal_damage": 0.06, "public_order": 0.06,
    "false_imprisonment": 0.02, "kidnap": 0.02, "human_trafficking": 0.02, "gbh_with_intent": 0.04,
    "theft": 0.04, "fraud": 0.03, "homicide": 0.005, "attempted_murder": 0.005,
}
SERIOUS_OFFENCES: frozenset[str] = frozenset({
    "homicide", "sexual_offence", "terrorism", "human_trafficking", "attempted_murder", "kidnap",
    "false_imprisonment", "arson_endangering_life", "gbh_with_intent",
})
VICTIMS_PER_CRIME = (np.array([1, 2, 3]), np.array([0.92, 0.06, 0.02]))  # ~8 % multi-victim
# Crimes whose court area the crime system leaves blank: their witness care alerts go to the
# department's default lead.
NO_COURT_AREA_SHARE = 0.01

# --- the Victims Code services, on time -----------------------------------------------------
NEEDS_REFERRAL_ON_TIME: Mapping[str, float] = {
    "FORCE_CONTACT": 0.995, "FORCE_RESPONSE": 0.33, "IIT": 0.99, "VVA": 0.75, "PPU": 0.85,
    "CRIMINAL_JUSTICE": 0.70, "WITNESS_CARE": 0.80, "RESTORATIVE_JUSTICE": 0.65,
}
# Per trigger; the measured rate is higher (≈80 %) because one update answers every open
# trigger before it (an arrest and the interview hours later are usually told together).
UPDATE_ON_TIME: Mapping[str, float] = {
    "FORCE_CONTACT": 0.61, "FORCE_RESPONSE": 0.50, "IIT": 0.62, "VVA": 0.60, "PPU": 0.60,
    "CRIMINAL_JUSTICE": 0.60, "WITNESS_CARE": 0.60, "RESTORATIVE_JUSTICE": 0.58,
}
ACKNOWLEDGED_ON_TIME = 0.998
OUTCOME_COMMUNICATED_ON_TIME = 0.91
VPS_OFFERED_ON_TIME = 0.998
VPS_FEEDBACK_ON_TIME = 0.91

# --- the victim's choices (Right 6) ---------------------------------------------------------
AGREED_PLAN_SHARE = 0.85            # a contact plan agreed at first contact
AGREED_METHOD_SHARE: Mapping[str, float] = {
    "phone": 0.38, "email": 0.30, "letter": 0.17, "sms": 0.10, "visit": 0.05}
# Agreed days between updates (0: a method only, no periodic updates).
STANDARD_INTERVAL_DAYS = (np.array([14, 28, 0]), np.array([0.50, 0.35, 0.15]))
ENHANCED_INTERVAL_DAYS = (np.array([7, 14, 0]), np.array([0.80, 0.10, 0.10]))
# A contact by the agreed method; otherwise the method the force falls back on (the phone call
# that becomes an e-mail is the board paper's primary concern).
METHOD_AS_AGREED = 0.85
FALLBACK_METHOD: Mapping[str, str] = {
    "phone": "email", "sms": "email", "visit": "phone", "letter": "email", "email": "letter"}
# The method of a contact with a victim who agreed none.
UNAGREED_METHOD_SHARE: Mapping[str, float] = {
    "letter": 0.30, "email": 0.30, "sms": 0.15, "phone": 0.20, "visit": 0.05}
OPT_OUT_SHARE = 0.04                # victims who ask for no further services
OPT_BACK_IN_SHARE = 0.35            # of those, who ask again later (and agree a new plan)
OPT_OUT_RESPECTED = 0.9             # contacts the force holds back while a victim is opted out
# Periodic updates as agreed: on time (within the interval), late, or the force stops sending them.
AGREED_UPDATE_ON_TIME = 0.78
AGREED_UPDATES_STOPPED = 0.04
# After charge the witness care unit keeps the victim informed; a few contacts are still logged
# by the investigating team.
POST_CHARGE_BY_WITNESS_CARE = 0.9

# --- attrition after late updates (synth.attrition) --------------------------------------------
# Of crimes whose victim got an investigation update late or never before the outcome, the share
# that end "victim does not support" (outcome 14/16) instead of another outcome without charge:
# a modest link (a few points of 14/16) for the report's attrition section to find; 0 = none.
ATTRITION_EFFECT = 0.08

# --- how the rows reach the sources ---------------------------------------------------------
# Share of rows that arrive late (2-10 days after they happened) or are corrected later.
LATE_ROW_SHARE = 0.03
CORRECTED_ROW_SHARE = 0.02
# Bad rows, per affected table (docs/sources.md "Bad rows").
BAD_CODE_SHARE = 0.0025
MISSING_CRIME_SHARE = 0.0025
BEFORE_REPORT_SHARE = 0.0025
DUPLICATE_SHARE = 0.0025
UNPARSEABLE_DATE_SHARE = 0.001
BAD_CRIME_SHARE = 0.0005
REDELIVERED_FILES = 2
