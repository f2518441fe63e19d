"""The prohibited-input guard on its own: names in English and Dutch, declarations,
exceptions, nested fields, and what is withheld."""

from __future__ import annotations

import pytest

from oversight.errors import PolicyError
from oversight.guard import WITHHELD, guard_inputs, withhold
from oversight.input_categories import InputDeclaration, match_category, tokens
from oversight.policy import parse_policy


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("emotion", "emotion"),
        ("sentimentScore", "emotion"),
        ("mood-index", "emotion"),
        ("voice_tone", "emotion"),
        ("gemoedstoestand", "emotion"),
        ("union_member", "trade_union"),
        ("vakbondslidmaatschap", "trade_union"),
        ("private_messages", "private_conversations"),
        ("off_duty_posts", "off_duty"),
        ("socialMediaActivity", "off_duty"),
        ("ethnicity_guess", "racial_ethnic_origin"),
        ("afkomst", "racial_ethnic_origin"),
        ("residence_permit_type", "migration_status"),
        ("verblijfsstatus", "migration_status"),
        ("religion", "belief"),
        ("sick_days", "health"),
        ("zwangerschap", "health"),
        ("sexual_orientation", "sexual_orientation"),
        ("face_embedding", "biometric"),
        ("vingerafdruk", "biometric"),
    ],
)
def test_names_that_give_the_category_away(name: str, category: str) -> None:
    matched = match_category(name)
    assert matched is not None and matched.name == category


@pytest.mark.parametrize(
    "name",
    ["years_experience", "certificates", "distance_km", "reunion_count", "psychometric_test",
     "skills", "availability", "shift_preference", "tenure"],
)  # fmt: skip
def test_ordinary_names_pass(name: str) -> None:
    assert match_category(name) is None


def test_tokens() -> None:
    assert tokens("moodScore") == ("mood", "score")
    assert tokens("Mood-Score") == ("mood", "score")
    assert tokens("HTTPStatus2") == ("httpstatus2",)


def test_undeclared_hit_blocks_and_names_field_category_article() -> None:
    result = guard_inputs({"years": 3, "mood_score": 0.2}, {})
    [hit] = result.findings
    assert hit.action == "block"
    assert hit.finding.check == "prohibited_input"
    assert hit.finding.rule == "emotion"
    assert "'mood_score'" in hit.finding.message
    assert "AI Act Art 5(1)(f)" in hit.finding.message
    assert result.withheld == {"mood_score"}


def test_declarations_decide_over_names() -> None:
    declared = {
        "mood_score": InputDeclaration(category="ordinary"),  # e.g. a product's 'mood' tag
        "wellbeing": InputDeclaration(category="health"),
    }
    result = guard_inputs({"mood_score": 1, "wellbeing": 7}, declared)
    assert [(f.finding.data or {}).get("field") for f in result.findings] == ["wellbeing"]
    assert (result.findings[0].finding.data or {})["declared"] is True


def test_a_declared_exception_passes_and_is_logged() -> None:
    justification = "Detects drowsiness of forklift drivers to stop the truck (safety)."
    declared = {
        "alertness": InputDeclaration.model_validate(
            {"category": "emotion", "exception": {"use": "safety", "justification": justification}}
        )
    }
    result = guard_inputs({"alertness": 0.4}, declared)
    [note] = result.findings
    assert note.action == "none" and note.finding.severity == "info"
    assert note.finding.check == "prohibited_input_exception"
    assert justification in note.finding.message
    assert not result.withheld


def test_nested_fields_and_lists_are_searched_and_withheld() -> None:
    inputs = {
        "profile": {"skills": ["forklift"], "chats": [{"sentiment": 0.1}, {"sentiment": 0.9}]}
    }
    result = guard_inputs(inputs, {})
    assert [(f.finding.data or {})["field"] for f in result.findings] == ["profile.chats.sentiment"]
    assert withhold(inputs, result.withheld) == {
        "profile": {
            "skills": ["forklift"],
            "chats": [{"sentiment": WITHHELD}, {"sentiment": WITHHELD}],
        }
    }
    # A withheld field is not looked inside.
    result = guard_inputs({"health": {"diagnosis": "x"}}, {})
    assert [(f.finding.data or {})["field"] for f in result.findings] == ["health"]


POLICY = """
systems:
  planner:
    purpose: "Plans shifts"
    risk_class: high
    decision_types: {{assign: {{category: scheduling}}}}
    inputs:
      {field}: {declaration}
"""


REASON = '"a reason long enough to pass the length check"'


@pytest.mark.parametrize(
    ("declaration", "problem"),
    [
        (f"{{category: health, exception: {{use: medical, justification: {REASON}}}}}",
         "not for medical"),
        (f"{{category: biometric, exception: {{use: safety, justification: {REASON}}}}}",
         "for authentication, not for safety"),
        ("{category: emotion, exception: {use: safety, justification: short}}", "at least 30"),
        (f"{{category: ordinary, exception: {{use: safety, justification: {REASON}}}}}",
         "no exception"),
        ("{category: gossip}", "category"),
    ],
)  # fmt: skip
def test_policy_refuses_unlawful_declarations(declaration: str, problem: str) -> None:
    with pytest.raises(PolicyError) as error:
        parse_policy(POLICY.format(field="f", declaration=declaration), source="p.yaml")
    assert problem in str(error.value)
    assert "p.yaml" in str(error.value)


def test_policy_warns_about_an_ordinary_field_named_like_prohibited_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parse_policy(POLICY.format(field="union_dues", declaration="{category: ordinary}"))
    assert "declared ordinary but is named like trade-union" in caplog.text
