"""The policy file: what it enforces whatever it says, and how it reports mistakes."""

from __future__ import annotations

import logging

import pytest

from oversight.errors import PolicyError
from oversight.policy import parse_policy

BASE = """
systems:
  gig:
    purpose: "Dispatches couriers"
    risk_class: high
    reviewers: [ann]
    decision_types:
"""


def test_human_only_categories_override_the_file() -> None:
    policy = parse_policy(
        BASE + "      deactivate: {category: account_deactivation, impact: low}\n"
    )
    dtype = policy.decision_type("gig", "deactivate")
    assert dtype is not None
    assert dtype.effective_impact == "human_only"
    assert dtype.needs_four_eyes is True


def test_four_eyes_off_for_human_only_is_allowed_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        policy = parse_policy(
            BASE + "      suspend: {category: suspension, impact: high, four_eyes: false}\n"
        )
    dtype = policy.decision_type("gig", "suspend")
    assert dtype is not None and dtype.needs_four_eyes is False
    assert dtype.effective_impact == "human_only"
    assert "four_eyes: false" in caplog.text


def test_errors_name_line_and_field() -> None:
    text = BASE + "      assign: {category: task_allocation, impact: medium}\n"
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="policy.yaml")
    message = str(caught.value)
    assert "policy.yaml line 8" in message
    assert "systems.gig.decision_types.assign.impact" in message


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(PolicyError, match="reviewer"):
        parse_policy(BASE.replace("reviewers", "reviewer") + "      a: {category: x}\n")


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(PolicyError, match="line 3"):
        parse_policy("systems:\n  a: [\n  b: }\n")
