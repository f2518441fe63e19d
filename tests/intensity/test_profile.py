"""Rule profiles as data: the built-in nl-atw, a policy's own profiles through
``extends``, and the errors that name what to fix."""

from __future__ import annotations

import pytest

from oversight.errors import PolicyError
from oversight.intensity.profile import RULES, builtin_profiles, resolve_profiles
from oversight.policy import parse_policy


def test_nl_atw_is_built_in_with_the_law_s_numbers() -> None:
    assert "nl-atw" in builtin_profiles()
    profile = resolve_profiles({})["nl-atw"]
    rules = profile.rules
    assert profile.timezone == "Europe/Amsterdam"
    assert rules.shift_length.max_hours == 12
    assert rules.week_hours.max_hours == 60
    assert [(p.weeks, p.max_hours_per_week) for p in rules.average_week_hours.periods] == [
        (4, 55),
        (16, 48),
    ]
    assert rules.rest_between_shifts.min_hours == 11
    assert rules.rest_between_shifts.shortened_min_hours == 8
    assert rules.weekly_rest.min_hours == 36
    assert rules.weekly_rest.alternative is not None
    assert rules.weekly_rest.alternative.min_hours == 72
    assert [(t.over_hours, t.min_minutes) for t in rules.breaks.tiers] == [(5.5, 30), (10, 45)]
    assert rules.night_work.max_shifts == 36 and rules.night_work.max_consecutive == 7
    assert rules.roster_notice.min_days == 28
    assert rules.pace.max_share == 1.2
    # The longest window (16 weeks) and a margin bound what the ledger reads.
    assert profile.horizon_seconds == (16 * 7 + 2) * 86_400


def test_a_profile_extends_another_and_changes_only_what_differs() -> None:
    profiles = resolve_profiles(
        {
            "care": {"extends": "nl-atw", "rules": {"night_work": {"max_shifts": 30}}},
            "care-weekend": {"extends": "care", "rules": {"shift_length": {"max_hours": 10}}},
        }
    )
    weekend = profiles["care-weekend"]
    assert weekend.rules.night_work.max_shifts == 30
    assert weekend.rules.night_work.max_consecutive == 7
    assert weekend.rules.shift_length.max_hours == 10
    assert profiles["nl-atw"].rules.night_work.max_shifts == 36


@pytest.mark.parametrize(
    ("profiles", "problem"),
    [
        ({"a": {"extends": "b"}, "b": {"extends": "a"}}, "extends itself"),
        ({"a": {"extends": "nowhere"}}, "unknown profile 'nowhere'"),
        ({"a": {"extends": "nl-atw", "timezone": "Mars/Olympus"}}, "unknown time zone"),
        ({"a": {"extends": "nl-atw", "rules": {"breaks": {"tiers": []}}}}, "at least 1"),
        ({"a": {"extends": "nl-atw", "rules": {"coffee": {}}}}, "coffee"),
        (
            {
                "a": {
                    "extends": "nl-atw",
                    "rules": {"rest_between_shifts": {"shortened_min_hours": 12}},
                }
            },
            "must not exceed",
        ),
    ],
)
def test_bad_profiles_are_named(profiles: dict[str, dict[str, object]], problem: str) -> None:
    with pytest.raises(ValueError, match="intensity profile") as error:
        resolve_profiles(profiles)  # type: ignore[arg-type]
    assert problem in str(error.value)


POLICY = """
systems:
  planner:
    purpose: "Plans shifts"
    risk_class: high
    intensity: {intensity}
    decision_types: {{assign: {{category: scheduling}}}}
"""


@pytest.mark.parametrize(
    ("intensity", "problem"),
    [
        ("{profile: nl-atv}", "intensity profile 'nl-atv'; known: nl-atw"),
        ("{actions: {rest: block}}", "unknown rule rest"),
        ("{action: ignore}", "action"),
    ],
)
def test_the_policy_names_a_wrong_intensity_block(intensity: str, problem: str) -> None:
    with pytest.raises(PolicyError) as error:
        parse_policy(POLICY.format(intensity=intensity), source="policy.yaml")
    assert problem in str(error.value) and "policy.yaml" in str(error.value)


def test_every_rule_can_be_given_its_own_action() -> None:
    actions = ", ".join(f"{rule}: alert" for rule in RULES)
    policy = parse_policy(POLICY.format(intensity=f"{{action: block, actions: {{{actions}}}}}"))
    assert {policy.systems["planner"].intensity.action_for(r) for r in RULES} == {"alert"}
