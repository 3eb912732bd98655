"""The eight source tables of CONTRACT.md as declarative specs.

Every check the validator makes is read from these specs; nothing about a source is written
anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["string", "date", "integer", "number", "country", "code"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "string"
    required: bool = False
    allowed: tuple[str, ...] | None = None
    positive: bool = False


@dataclass(frozen=True)
class SourceSpec:
    name: str
    columns: tuple[Column, ...]
    linked: bool = True
    key: str | None = "record_id"
    # the day the record was made (the person was seen, registered, counted): no birth, and
    # no arrival, after it
    record_date: str | None = None
    # (start, end): a stay or permit cannot end before it starts
    period: tuple[str, str] | None = None

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


SEX = ("M", "F")
STAY_PURPOSE = ("work", "study", "family", "protection", "other")

IDENTITY_COLUMNS: tuple[Column, ...] = (
    Column("record_id", "string", required=True),
    Column("person_key"),
    Column("first_name"),
    Column("last_name"),
    Column("first_name_bf"),
    Column("last_name_bf"),
    Column("birth_date", "date"),
    Column("birth_year", "integer"),
    Column("sex", "code", allowed=SEX),
    Column("citizenship", "country"),
    Column("country_of_birth", "country"),
    Column("locality"),
)
IDENTIFYING = tuple(c.name for c in IDENTITY_COLUMNS if c.name not in ("record_id", "locality"))


def _linked(name: str, *own: Column, record_date: str, period: tuple[str, str] | None = None
            ) -> SourceSpec:
    return SourceSpec(name, IDENTITY_COLUMNS + own, record_date=record_date, period=period)


SOURCES: dict[str, SourceSpec] = {
    s.name: s
    for s in (
        _linked(
            "population_register",
            Column("registration_date", "date", required=True),
            Column("deregistration_date", "date"),
            Column("deregistration_reason", "code", allowed=("emigration", "death", "other")),
            Column("previous_residence_country", "country"),
            Column("next_residence_country", "country"),
            record_date="registration_date", period=("registration_date", "deregistration_date"),
        ),
        _linked(
            "aliens_register",
            Column("registration_date", "date", required=True),
            Column("end_date", "date"),
            Column("stay_purpose", "code", allowed=STAY_PURPOSE),
            record_date="registration_date", period=("registration_date", "end_date"),
        ),
        _linked(
            "residence_permits",
            Column("valid_from", "date", required=True),
            Column("valid_to", "date"),
            Column("permit_type", "code", allowed=STAY_PURPOSE),
            record_date="valid_from", period=("valid_from", "valid_to"),
        ),
        _linked(
            "census",
            Column("census_date", "date", required=True),
            Column("residence_one_year_ago_country", "country"),
            Column("year_of_arrival", "integer"),
            record_date="census_date",
        ),
        _linked(
            "survey",
            Column("interview_date", "date", required=True),
            Column("weight", "number", required=True, positive=True),
            Column("year_of_arrival", "integer"),
            Column("previous_residence_country", "country"),
            record_date="interview_date",
        ),
        _linked(
            "border_crossings",
            Column("crossing_date", "date", required=True),
            Column("direction", "code", required=True, allowed=("in", "out")),
            record_date="crossing_date",
        ),
        _linked(
            "activity",
            Column("activity_date", "date", required=True),
            Column("activity_type"),
            record_date="activity_date",
        ),
        SourceSpec(
            "mirror_flows",
            (
                Column("reporting_country", "country", required=True),
                Column("partner_country", "country", required=True),
                Column("year", "integer", required=True),
                Column("flow", "code", required=True, allowed=("immigration", "emigration")),
                Column("citizenship", "country"),
                Column("sex", "code", allowed=SEX),
                Column("count", "number", required=True),
            ),
            linked=False,
            key=None,
        ),
    )
}
