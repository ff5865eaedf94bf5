"""The four source systems' native rows (docs/sources.md): the crime recording system's crimes,
victims, milestones and finalisations, the victim contact log, the support partner's referral
drops and the witness care unit's update drops, each in its own codes and time formats."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vcpipeline.synth.attributes import victim_attribute_codes
from vcpipeline.synth.calibration import (
    BAD_CODE_SHARE,
    BAD_CRIME_SHARE,
    BEFORE_REPORT_SHARE,
    MISSING_CRIME_SHARE,
    NO_COURT_AREA_SHARE,
    UNPARSEABLE_DATE_SHARE,
)
from vcpipeline.synth.delivery import (
    audit,
    duplicate_rows,
    native_codes,
    partner_drop,
    pick_rows,
    record_bad,
    with_audit,
)
from vcpipeline.synth.people import personal_details
from vcpipeline.synth.timing import DAY, HOUR, local_naive, local_text, uk_text, uniform, utc_text


def _crime_numbers(rng: np.random.Generator, reported: np.ndarray) -> pd.Series:
    """`DD/NNNNNN/YY`: division, serial within division and year, year of recording."""
    n = len(reported)
    division = rng.integers(20, 30, n)
    year = local_naive(reported).astype("datetime64[Y]").astype(int) + 1970
    serial = pd.DataFrame({"d": division, "y": year}).groupby(["d", "y"]).cumcount().to_numpy() + 1
    return (pd.Series(division, dtype="int64").astype("string") + "/"
            + pd.Series(serial, dtype="int64").astype("string").str.zfill(6) + "/"
            + pd.Series(year % 100, dtype="int64").astype("string").str.zfill(2))


def crime_recording(rng, crimes, victims, events, horizon, config, bad) -> dict[str, pd.DataFrame]:
    """The crime recording system's four tables. Gives `crimes` their crime numbers and
    `victims` their victim numbers and names, which the other systems quote."""
    crime_no = _crime_numbers(rng, crimes["reported"].to_numpy())
    crimes["crime_no"] = crime_no.to_numpy()
    return {"crimes": _crime_table(rng, crimes, crime_no, horizon, config, bad),
            "victims": _victim_table(rng, crimes, crime_no, victims, horizon, config),
            "milestones": _milestone_table(rng, crimes, crime_no, events, horizon, config, bad),
            "finalisations": _finalisation_table(rng, crime_no, events, horizon)}


def _crime_table(rng, crimes, crime_no, horizon, config, bad) -> pd.DataFrame:
    """One row per crime: its reporting unit, owning team and officer in charge, offence, markers."""
    n = len(crimes)
    reported = crimes["reported"].to_numpy()
    units = native_codes(config, "reporting_unit")
    offences = native_codes(config, "offence_code")
    unit = crimes["department"].map(units).to_numpy(dtype=object)
    offence = crimes["offence"].map(offences).to_numpy(dtype=object)
    letter = rng.choice(list("ABCDEFGH"), n)
    team = pd.Series(unit, dtype="string") + "-" + pd.Series(letter, dtype="string") + \
        pd.Series(rng.integers(1, 7, n), dtype="int64").astype("string")
    collar = pd.Series(rng.integers(1000, 9999, n), dtype="int64").astype("string")
    areas = np.array(sorted(config.codes("court_area")), dtype=object)
    court_area = np.where(rng.random(n) < NO_COURT_AREA_SHARE, "", areas[rng.integers(0, len(areas), n)])
    created, modified, _ = audit(rng, reported, np.iinfo(np.int64).max, min_lag=60, max_lag=2 * HOUR)
    frame = pd.DataFrame({
        "crime_id": np.arange(1, n + 1, dtype=np.int64),
        "crime_no": crime_no,
        "recorded_at": local_text(reported),
        "reporting_unit": pd.Series(unit, dtype="string"),
        "owning_team": team,
        "oic_collar": collar,
        "court_area": pd.Series(court_area, dtype="string"),
        "offence_code": pd.Series(offence, dtype="string"),
        "da_marker": pd.Series(np.where(crimes["domestic_abuse"], "Y", "N"), dtype="string"),
        "hate_marker": pd.Series(np.where(crimes["hate_crime"], "Y", "N"), dtype="string"),
        "created_at": local_text(np.minimum(created, horizon)),
        "modified_at": local_text(np.minimum(modified, horizon)),
    })
    for column, code, kind in (("offence_code", "ZZ9", "unknown_offence_code"),
                               ("reporting_unit", "SOC", "unknown_unit_code")):
        rows = pick_rows(rng, np.ones(n, dtype=bool), BAD_CRIME_SHARE)
        frame.loc[rows, column] = code
        record_bad(bad, "crime_recording", "crimes", frame.loc[rows, "crime_id"], kind)
    return frame


def _victim_table(rng, crimes, crime_no, victims, horizon, config) -> pd.DataFrame:
    """One row per victim with their personal details, vulnerability markers and who they are
    (sex, ethnicity, disability: drawn from a spawned generator, so `rng`'s stream is unchanged)."""
    m = len(victims)
    attributes = victim_attribute_codes(rng.spawn(1)[0], m)
    people = personal_details(rng, m)
    v_reported = crimes["reported"].to_numpy()[victims["crime"].to_numpy()]
    v_created, v_modified, _ = audit(rng, v_reported, np.iinfo(np.int64).max, min_lag=60, max_lag=3 * HOUR)
    markers = pd.Series("", index=range(m), dtype="string")
    for native_code, flag in config.codes("marker").items():
        has = victims[flag].to_numpy()
        markers = markers.where(~has, markers.where(markers == "", markers + ";") + native_code)
    victim_table = pd.DataFrame({
        "victim_no": np.arange(1, m + 1, dtype=np.int64),
        "crime_no": crime_no.to_numpy()[victims["crime"].to_numpy()],
        "forename": people["forename"], "surname": people["surname"],
        "date_of_birth": victims["date_of_birth"].to_numpy(),
        "phone": people["phone"], "address_line": people["address_line"],
        "town": people["town"], "postcode": people["postcode"],
        "markers": markers,
        **{name: attributes[name].to_numpy() for name in attributes.columns},
        "created_at": local_text(np.minimum(v_created, horizon)),
        "modified_at": local_text(np.minimum(v_modified, horizon)),
    }).astype({"crime_no": "string", "date_of_birth": "string"})
    victims["victim_no"] = victim_table["victim_no"].to_numpy()
    victims["crime_no"] = victim_table["crime_no"].to_numpy()
    victims["name"] = (people["forename"] + " " + people["surname"]).to_numpy()
    return victim_table


def _milestone_table(rng, crimes, crime_no, events, horizon, config, bad) -> pd.DataFrame:
    """The investigation's milestones, a few keyed before the crime was reported or in a code
    the force does not use."""
    milestone_codes = native_codes(config, "milestone_code")
    ms = events[(events["system"] == "CRS") & (events["event_type"] != "CRIME_FINALISED")]
    ms = with_audit(rng, ms, horizon, min_lag=300, max_lag=6 * HOUR)
    ms_crime = ms["crime"].to_numpy()
    at = ms["at"].to_numpy().copy()
    before = pick_rows(rng, np.ones(len(ms), dtype=bool), BEFORE_REPORT_SHARE)
    at[before] = crimes["reported"].to_numpy()[ms_crime[before]] - uniform(rng, len(before), DAY, 3 * DAY)
    milestones = pd.DataFrame({
        "milestone_id": np.arange(1, len(ms) + 1, dtype=np.int64),
        "crime_no": crime_no.to_numpy()[ms_crime],
        "victim_no": pd.array([pd.NA] * len(ms), dtype="Int64"),
        "milestone_code": ms["event_type"].map(milestone_codes).astype("string").to_numpy(),
        "milestone_at": local_text(at),
        "created_at": local_text(ms["created"].to_numpy()),
        "modified_at": local_text(ms["modified"].to_numpy()),
    }).astype({"crime_no": "string", "milestone_code": "string"})
    record_bad(bad, "crime_recording", "milestones", milestones.loc[before, "milestone_id"], "before_report")
    unknown = pick_rows(rng, ~np.isin(np.arange(len(ms)), before), BAD_CODE_SHARE)
    milestones.loc[unknown, "milestone_code"] = "WNT"
    record_bad(bad, "crime_recording", "milestones", milestones.loc[unknown, "milestone_id"], "unknown_code")
    return milestones


def _finalisation_table(rng, crime_no, events, horizon) -> pd.DataFrame:
    """Each finalised crime's Home Office outcome."""
    fin = with_audit(rng, events[events["event_type"] == "CRIME_FINALISED"], horizon,
                     min_lag=300, max_lag=12 * HOUR)
    return pd.DataFrame({
        "finalisation_id": np.arange(1, len(fin) + 1, dtype=np.int64),
        "crime_no": crime_no.to_numpy()[fin["crime"].to_numpy()],
        "ho_outcome": fin["outcome"].to_numpy().astype(np.int64),
        "finalised_at": local_text(fin["at"].to_numpy()),
        "created_at": local_text(fin["created"].to_numpy()),
        "modified_at": local_text(fin["modified"].to_numpy()),
    }).astype({"crime_no": "string"})


def victim_contact(rng, crimes, victims, events, horizon, config, bad) -> dict[str, pd.DataFrame]:
    """The contact log: every contact with its method, and the victim's choices (an agreed plan's
    method in `channel` and days between updates in `update_interval`, typed as text: now and
    then "2 weeks")."""
    contact_types = native_codes(config, "contact_type")
    responses = native_codes(config, "vps_response")
    channels = native_codes(config, "channel")
    rows = with_audit(rng, events[events["system"] == "VCL"], horizon, min_lag=60, max_lag=8 * HOUR)
    k = len(rows)
    kind = rows["event_type"]
    is_vps = kind.isin(list(responses))
    contact_type = kind.map(contact_types).astype("string").where(~is_vps, "VPS")
    crime = rows["crime"].to_numpy()
    reported = crimes["reported"].to_numpy()
    at = rows["at"].to_numpy().copy()
    acks = (kind == "WRITTEN_ACKNOWLEDGEMENT").to_numpy()
    before = pick_rows(rng, acks, BEFORE_REPORT_SHARE / 2)
    at[before] = reported[crime[before]] - uniform(rng, len(before), DAY, 3 * DAY)
    contacts = pd.DataFrame({
        "contact_id": np.arange(1, k + 1, dtype=np.int64),
        "crime_number": pd.Series(crimes["crime_no"].to_numpy()[crime], dtype="string"),
        "crs_victim_no": pd.Series(victims["victim_no"].to_numpy()[np.maximum(rows["victim"].to_numpy(), 0)],
                                   dtype="Int64").where(rows["victim"].to_numpy() >= 0),
        "contact_type": contact_type.to_numpy(),
        "vps_response": kind.map(responses).astype("string").to_numpy(),
        "channel": rows["channel"].map(channels).astype("string").to_numpy(),
        "staff_no": pd.Series(rng.integers(10000, 99999, k), dtype="int64").astype("string"),
        "update_interval": pd.Series(rows["interval"].to_numpy(), dtype="int64").astype("string")
                             .where((kind == "CONTACT_AGREED").to_numpy()).to_numpy(),
        "contacted_at": utc_text(at),
        "created_at": utc_text(rows["created"].to_numpy()),
        "modified_at": utc_text(rows["modified"].to_numpy()),
    }).astype({"contact_type": "string", "vps_response": "string", "channel": "string",
               "update_interval": "string"})
    record_bad(bad, "victim_contact", "contacts", contacts.loc[before, "contact_id"], "before_report")
    free = ~np.isin(np.arange(k), before)
    agreements = free & (kind == "CONTACT_AGREED").to_numpy()
    typed = pick_rows(rng, agreements, BAD_CODE_SHARE * agreements.sum() / max(k, 1))
    contacts.loc[typed, "update_interval"] = "2 weeks"
    record_bad(bad, "victim_contact", "contacts", contacts.loc[typed, "contact_id"], "bad_interval")
    free[typed] = False
    unknown = pick_rows(rng, free, BAD_CODE_SHARE)
    contacts.loc[unknown, ["contact_type", "vps_response"]] = ["CBK", pd.NA]
    record_bad(bad, "victim_contact", "contacts", contacts.loc[unknown, "contact_id"], "unknown_code")
    free[unknown] = False
    missing = pick_rows(rng, free, MISSING_CRIME_SHARE)
    contacts.loc[missing, "crime_number"] = pd.NA
    record_bad(bad, "victim_contact", "contacts", contacts.loc[missing, "contact_id"], "missing_crime_ref")
    return {"contacts": contacts}


def victim_support(rng, crimes, victims, events, horizon, config, bad) -> dict[str, pd.DataFrame]:
    activities = native_codes(config, "activity")
    in_need_codes = native_codes(config, "in_need")
    rows = partner_drop(rng, events, "VS", horizon)
    victim = rows["victim"].to_numpy()
    in_need = rows["in_need"].to_numpy()
    frame = pd.DataFrame({
        "Referral Ref": "VS" + rows["row"].astype("string").str.zfill(8),
        "Police Crime No": pd.Series(crimes["crime_no"].to_numpy()[rows["crime"].to_numpy()], dtype="string"),
        "Police Victim No": pd.Series(victims["victim_no"].to_numpy()[victim], dtype="int64").astype("string"),
        "Client Name": pd.Series(victims["name"].to_numpy()[victim], dtype="string"),
        "Activity": rows["event_type"].map(activities).astype("string"),
        "In Need": pd.Series(np.where(in_need == 1, in_need_codes["true"],
                                      np.where(in_need == 0, in_need_codes["false"], "")), dtype="string"),
        "Activity Date": uk_text(rows["at"].to_numpy()),
        "Last Updated": uk_text(rows["last_updated"].to_numpy()),
        "source_file": "referrals_" + rows["file_day"] + rows["redelivery"] + ".csv",
    })
    n = len(frame)
    taken = np.zeros(n, dtype=bool)
    for column, value, share, kind in (
        ("Activity", "Self-referral", BAD_CODE_SHARE, "unknown_code"),
        ("Police Crime No", "", MISSING_CRIME_SHARE, "missing_crime_ref"),
        ("Activity Date", None, UNPARSEABLE_DATE_SHARE, "unparseable_date"),
    ):
        rows_bad = pick_rows(rng, ~taken, share)
        taken[rows_bad] = True
        if value is None:   # 31 February: right shape, impossible date
            frame.loc[rows_bad, column] = "31/02/" + frame.loc[rows_bad, column].str.slice(6)
        else:
            frame.loc[rows_bad, column] = value
        record_bad(bad, "victim_support", "referrals", frame.loc[rows_bad, "Referral Ref"], kind)
    frame = duplicate_rows(rng, frame, bad, "victim_support", "referrals", "Referral Ref")
    return {"referrals": frame}


def witness_care(rng, crimes, victims, events, horizon, config, bad) -> dict[str, pd.DataFrame]:
    update_types = native_codes(config, "update_type")
    results = native_codes(config, "court_result")
    methods = native_codes(config, "contact_method")
    rows = partner_drop(rng, events, "WCU", horizon)
    victim = rows["victim"].to_numpy()
    has_victim = victim >= 0
    frame = pd.DataFrame({
        "WCU ID": rows["row"].to_numpy().astype(np.int64),
        "Police Ref": pd.Series(crimes["crime_no"].to_numpy()[rows["crime"].to_numpy()], dtype="string"),
        "Witness ID": pd.Series(victims["victim_no"].to_numpy()[np.maximum(victim, 0)],
                                dtype="Int64").where(has_victim),
        "Witness Name": pd.Series(victims["name"].to_numpy()[np.maximum(victim, 0)],
                                  dtype="string").where(has_victim, ""),
        "Update Type": rows["event_type"].map(update_types).astype("string"),
        "Court Result": rows["court"].map(results).astype("string").fillna(""),
        "Contact Method": rows["channel"].map(methods).astype("string").fillna(""),
        "Event Date": local_text(rows["at"].to_numpy()),
        "Last Modified": local_text(rows["last_updated"].to_numpy()),
        "source_file": "wcu_" + rows["file_day"] + rows["redelivery"] + ".xlsx",
    })
    unknown = pick_rows(rng, np.ones(len(frame), dtype=bool), BAD_CODE_SHARE)
    frame.loc[unknown, ["Update Type", "Court Result", "Contact Method"]] = ["Special measures", "", ""]
    record_bad(bad, "witness_care", "WCU Updates", frame.loc[unknown, "WCU ID"], "unknown_code")
    frame = duplicate_rows(rng, frame, bad, "witness_care", "WCU Updates", "WCU ID")
    return {"WCU Updates": frame}
