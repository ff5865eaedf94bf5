"""Scheduling pieces the victims-code DAGs need that Airflow does not ship.

- `FirstWorkingDayOfQuarterTimetable`: the quarterly dip sample runs on the first England & Wales
  working day of each quarter at a local time; its data interval is the quarter just ended.
- `DataIntervalEndDeadline`: a Deadline Alert reference at the end of a run's data interval, so
  "finished by 07:00 local" is exact on the nights the clocks change (the logical date of a
  data-interval schedule is the day before, and 29 hours after it is 06:00 or 08:00 on those nights).

Both must be registered here: the scheduler, API server and DAG processor only deserialize custom
timetables and deadline references that a plugin lists. DAG files import them from this module
(Airflow puts the plugins folder on `sys.path`).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseDeadlineReference
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable

from vcpipeline.instants import LONDON
from vcpipeline.orchestration import timetables as quarters

if TYPE_CHECKING:
    from airflow.timetables.base import TimeRestriction
    from pendulum import DateTime
    from sqlalchemy.orm import Session


def _pendulum(value: datetime) -> DateTime:
    import pendulum

    return pendulum.instance(value).in_timezone("UTC")


class FirstWorkingDayOfQuarterTimetable(Timetable):
    """Run on the first working day of each quarter at `at` local time, over the quarter just ended.

    With catchup=False the first run is for the latest quarter that has ended (as Airflow's
    data-interval timetables do); a DAG deployed in May produces the Q1 sample straight away.
    """

    def __init__(self, at: time = time(6, 0), timezone: str = LONDON) -> None:
        self.at = at
        self.timezone = timezone
        self.description = (
            f"First England & Wales working day of each quarter at {at:%H:%M} {timezone}"
        )

    @property
    def summary(self) -> str:
        return f"quarterly, first working day {self.at:%H:%M}"

    def serialize(self) -> dict[str, Any]:
        return {"at": self.at.strftime("%H:%M"), "timezone": self.timezone}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> FirstWorkingDayOfQuarterTimetable:
        return cls(at=time.fromisoformat(data["at"]), timezone=data["timezone"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FirstWorkingDayOfQuarterTimetable):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash((self.at, self.timezone))

    def _info(self, run: quarters.QuarterRun) -> DagRunInfo:
        return DagRunInfo(
            run_after=_pendulum(run.run_at),
            data_interval=DataInterval(_pendulum(run.quarter_start), _pendulum(run.quarter_end)),
        )

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        run = quarters.latest_quarter_run_before(run_after, self.at, self.timezone)
        return DataInterval(_pendulum(run.quarter_start), _pendulum(run.quarter_end))

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        if last_automated_data_interval is not None:
            run = quarters.quarter_run(
                last_automated_data_interval.end.in_timezone(self.timezone).date(),
                self.at,
                self.timezone,
            )
        elif restriction.earliest is None:
            return None  # no start_date: never scheduled
        else:
            run = quarters.first_quarter_run_from(restriction.earliest, self.at, self.timezone)
            if not restriction.catchup:
                import pendulum

                latest = quarters.latest_quarter_run_before(pendulum.now("UTC"), self.at, self.timezone)
                if latest.quarter_start > run.quarter_start:
                    run = latest
        if restriction.latest is not None and run.quarter_start > restriction.latest:
            return None
        return self._info(run)


class DataIntervalEndDeadline(BaseDeadlineReference):
    """Deadline reference: the end of the Dag run's data interval (02:00 local for the nightly run)."""

    required_kwargs = frozenset({"dag_id", "run_id"})

    def _evaluate_with(self, *, session: Session, **kwargs: Any) -> datetime | None:
        from airflow.models import DagRun
        from sqlalchemy import select

        return session.scalar(
            select(DagRun.data_interval_end).where(
                DagRun.dag_id == kwargs["dag_id"], DagRun.run_id == kwargs["run_id"]
            )
        )


class VcpSchedulingPlugin(AirflowPlugin):
    name = "vcp_scheduling"
    timetables: ClassVar[list[type]] = [FirstWorkingDayOfQuarterTimetable]
    deadline_references: ClassVar[list[type]] = [DataIntervalEndDeadline]
