"""The synthetic force's calibration: how often each thing happens, and how messy the rows are.

Rates are calibrated to the board paper by reporting department (the stratum): needs
referral within 2 days ≈33 % when Force Response took the report and near 100 % for Force
Contact / IIT, updates on time ≈80 %, outcomes communicated ≈91 %, acknowledgements ≈100 %,
VPS offered for charged cases ≈100 %, VPS use reported back ≈91 %. What the data really holds
is measured afterwards by `synth.summary`, not assumed.
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
VCOP_2020_FROM = np.datetime64("2021-04-01")

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

# Home Office outcomes that oblige the force to tell the victim (RULES.md outcome_notification).
NOTIFIED_OUTCOMES: frozenset[int] = frozenset({*range(2, 20), 21, 22})

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
