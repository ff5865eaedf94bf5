"""Migration 0008: optional victim attributes (sex, ethnicity, disability) on the victims table."""

from __future__ import annotations

import sqlalchemy as sa

from vcpipeline.warehouse import migrate
from vcpipeline.warehouse.db import make_engine

ROW = ("INSERT INTO victims (crime_ref, victim_id, age_at_report, vulnerable, intimidated, persistently_targeted, "
       "source_system, source_row_id, load_batch_id, extracted_at) VALUES "
       "('CR1', 'V1', 34, false, false, false, 'crime_recording', '1', 'b1', '2026-03-02T10:00:00.000000Z')")


def _victim_columns(conn: sa.Connection) -> set[str]:
    return {c["name"] for c in sa.inspect(conn).get_columns("victims")}


def test_victims_stored_before_0008_keep_their_rows_with_attributes_unknown_and_downgrade_drops_them(warehouse_url):
    engine = make_engine(warehouse_url)
    row = ROW.replace(".000000Z'", "Z'") if "postgresql" in warehouse_url else ROW
    try:
        migrate.upgrade(warehouse_url, "0007_sample_reviewers")
        with engine.begin() as conn:
            conn.exec_driver_sql(row)
        migrate.upgrade(warehouse_url, "0008_victim_attributes")
        with engine.begin() as conn:
            stored = conn.exec_driver_sql("SELECT age_at_report, sex, ethnicity, disability FROM victims").one()
            assert tuple(stored) == (34, None, None, None)
            conn.exec_driver_sql("UPDATE victims SET sex = 'FEMALE', ethnicity = 'NOT_STATED', disability = 'YES'")
        migrate.downgrade(warehouse_url, "0007_sample_reviewers")
        with engine.connect() as conn:
            assert not {"sex", "ethnicity", "disability"} & _victim_columns(conn)
            assert conn.exec_driver_sql("SELECT count(*) FROM victims").scalar() == 1
    finally:
        engine.dispose()
