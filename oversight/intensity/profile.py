"""Rule profiles: the thresholds of the working-time and pace rules, as data.

A profile is a YAML mapping validated here. ``nl-atw`` (the Dutch Arbeidstijdenwet) is
built in (``profiles/nl-atw.yaml``); a policy file adds its own under
``intensity_profiles``, each either complete or ``extends:`` another and changing only
what differs. The rules themselves are code (``rules.py``); what they allow is not.
"""

from __future__ import annotations

import functools
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from oversight.schemas import Severity

PROFILES_DIR = Path(__file__).parent / "profiles"
DEFAULT_PROFILE = "nl-atw"
IntensityAction = Literal["alert", "review", "block"]

#: The rule names a finding carries, and a policy's ``actions`` may name.
RULES = (
    "shift_length",
    "week_hours",
    "average_week_hours",
    "rest_between_shifts",
    "weekly_rest",
    "breaks",
    "night_shift_length",
    "night_rest",
    "night_shift_count",
    "consecutive_night_shifts",
    "roster_notice",
    "pace",
    "reference_hours",
)


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    severity: Severity = "warning"


class ShiftLength(_Rule):
    max_hours: float = Field(gt=0, le=24)


class WeekHours(_Rule):
    max_hours: float = Field(gt=0)
    days: int = Field(ge=1, le=31)


class AveragePeriod(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weeks: int = Field(ge=1, le=52)
    max_hours_per_week: float = Field(gt=0, le=168)


class AverageWeekHours(_Rule):
    periods: list[AveragePeriod] = Field(min_length=1, max_length=10)


class RestBetweenShifts(_Rule):
    min_hours: float = Field(gt=0, le=48)
    shortened_min_hours: float | None = Field(default=None, gt=0, le=48)
    shortened_once_in_days: int = Field(default=7, ge=1, le=31)

    @model_validator(mode="after")
    def _shortened_is_shorter(self) -> RestBetweenShifts:
        if self.shortened_min_hours is not None and self.shortened_min_hours > self.min_hours:
            raise ValueError("shortened_min_hours must not exceed min_hours")
        return self


class WeeklyRestAlternative(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_hours: float = Field(gt=0)
    days: int = Field(ge=1, le=31)
    min_block_hours: float = Field(gt=0)


class WeeklyRest(_Rule):
    min_hours: float = Field(gt=0)
    days: int = Field(ge=1, le=31)
    alternative: WeeklyRestAlternative | None = None


class BreakTier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    over_hours: float = Field(gt=0, le=24)
    min_minutes: float = Field(gt=0, le=24 * 60)


class Breaks(_Rule):
    tiers: list[BreakTier] = Field(min_length=1, max_length=10)
    min_piece_minutes: float = Field(default=0, ge=0, le=120)


class ClockWindow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time
    end: time


class NightWork(_Rule):
    window: ClockWindow
    min_hours: float = Field(ge=0, le=24)
    max_shift_hours: float | None = Field(default=None, gt=0, le=24)
    rest_after_hours: float | None = Field(default=None, gt=0, le=72)
    rest_after_if_ending_after: time = time(0, 0)
    max_shifts: int | None = Field(default=None, ge=1)
    period_weeks: int = Field(default=16, ge=1, le=52)
    max_consecutive: int | None = Field(default=None, ge=1)


class RosterNotice(_Rule):
    min_days: float = Field(ge=0, le=365)
    on_call_min_days: float = Field(ge=0, le=365)


class Pace(_Rule):
    baseline_tasks_per_hour: float | None = Field(default=None, gt=0)
    max_share: float = Field(default=1.2, gt=0)
    max_consecutive_hours: int = Field(default=2, ge=0, le=24)


class ReferenceHours(_Rule):
    start: time | None = None
    end: time | None = None
    weekdays: list[int] = Field(default=[1, 2, 3, 4, 5, 6, 7], min_length=1, max_length=7)

    @field_validator("weekdays")
    @classmethod
    def _iso_weekdays(cls, days: list[int]) -> list[int]:
        if any(not 1 <= d <= 7 for d in days):
            raise ValueError("weekdays are ISO numbers, 1 (Monday) to 7 (Sunday)")
        return days


class ProfileRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    shift_length: ShiftLength
    week_hours: WeekHours
    average_week_hours: AverageWeekHours
    rest_between_shifts: RestBetweenShifts
    weekly_rest: WeeklyRest
    breaks: Breaks
    night_work: NightWork
    roster_notice: RosterNotice
    pace: Pace
    reference_hours: ReferenceHours


class Profile(BaseModel):
    """Every threshold of the intensity rules, for one jurisdiction or agreement."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field(min_length=1, max_length=500)
    timezone: str = Field(description="IANA zone for clock rules: night work, hours")
    breaks_count_as_work: bool = True
    rules: ProfileRules

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r} (use an IANA name)") from exc
        return name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def horizon_seconds(self) -> float:
        """How far before and after a new shift other shifts can matter to a rule."""
        r = self.rules
        days = [
            r.week_hours.days,
            r.weekly_rest.days,
            r.rest_between_shifts.shortened_once_in_days,
            *(p.weeks * 7 for p in r.average_week_hours.periods),
            r.night_work.period_weeks * 7,
        ]
        if r.weekly_rest.alternative is not None:
            days.append(r.weekly_rest.alternative.days)
        return (max(days) + 2) * 86_400.0


class IntensityPolicy(BaseModel):
    """A system's intensity checks: which profile, and what a violation does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str = DEFAULT_PROFILE
    action: IntensityAction = Field(
        default="review", description="What a violation does: alert, review (hold) or block"
    )
    actions: dict[str, IntensityAction] = Field(
        default_factory=dict, description="Per rule, overriding `action`"
    )

    @field_validator("actions")
    @classmethod
    def _known_rules(cls, actions: dict[str, IntensityAction]) -> dict[str, IntensityAction]:
        unknown = sorted(set(actions) - set(RULES))
        if unknown:
            raise ValueError(f"unknown rule {', '.join(unknown)}; the rules are {', '.join(RULES)}")
        return actions

    def action_for(self, rule: str) -> IntensityAction:
        return self.actions.get(rule, self.action)


@functools.cache
def builtin_profiles() -> dict[str, dict[str, Any]]:
    """The profiles shipped with oversight, as raw mappings, by file name."""
    return {
        path.stem: yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted(PROFILES_DIR.glob("*.yaml"))
    }


def resolve_profiles(own: dict[str, dict[str, Any]]) -> dict[str, Profile]:
    """The built-in profiles and a policy's own, each resolved through ``extends``.

    Raises ``ValueError`` naming the profile that is circular, extends an unknown one,
    or is invalid once merged.
    """
    raw = {**builtin_profiles(), **own}
    resolved: dict[str, Profile] = {}

    def merged(name: str, chain: tuple[str, ...]) -> dict[str, Any]:
        if name in chain:
            raise ValueError(f"profile {name!r} extends itself ({' → '.join((*chain, name))})")
        if name not in raw:
            raise ValueError(f"unknown profile {name!r}; known: {', '.join(sorted(raw))}")
        data = dict(raw[name])
        base = data.pop("extends", None)
        if base is None:
            return data
        return _deep_merge(merged(str(base), (*chain, name)), data)

    for name in raw:
        try:
            resolved[name] = Profile.model_validate(merged(name, ()))
        except ValueError as exc:
            raise ValueError(f"intensity profile {name!r}: {exc}") from exc
    return resolved


def _deep_merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result
