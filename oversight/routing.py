"""Checks on one decision, and the route they lead to: release, hold for a human, block.

The routing order is the law's order: a prohibited system or a blocking finding blocks;
a halted system, a human-only or high-impact type, or a finding that asks for review
holds; a low-impact decision drawn for quality review is held like a high-impact one;
everything else is released.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from oversight.policy import DecisionTypePolicy, SystemPolicy
from oversight.schemas import DecisionIn, Finding

Route = Literal["released", "pending_review", "blocked"]
FindingAction = Literal["none", "review", "block"]


@dataclass(frozen=True)
class CheckedFinding:
    finding: Finding
    action: FindingAction = "none"


@dataclass(frozen=True)
class Routing:
    route: Route
    reason: str
    findings: list[CheckedFinding]

    @property
    def public_findings(self) -> list[Finding]:
        return [f.finding for f in self.findings]


def check(decision: DecisionIn, system: SystemPolicy) -> list[CheckedFinding]:
    """The checks that need nothing but the decision and the policy."""
    findings: list[CheckedFinding] = []
    if system.risk_class == "prohibited":
        findings.append(
            CheckedFinding(
                Finding(
                    check="prohibited_system",
                    severity="critical",
                    message=(
                        "This system is classed as a prohibited AI practice (AI Act Art 5); "
                        "its decisions are never released."
                    ),
                ),
                action="block",
            )
        )
    explanation = decision.explanation
    if explanation is None or not (explanation.summary or explanation.factors):
        findings.append(
            CheckedFinding(
                Finding(
                    check="missing_explanation",
                    severity="warning",
                    message=(
                        "The decision came without an explanation; the worker cannot be told "
                        "why (AI Act Art 86, GDPR Art 15(1)(h))."
                    ),
                )
            )
        )
    return findings


def route(
    findings: list[CheckedFinding],
    decision_type: DecisionTypePolicy,
    *,
    halted: bool,
    draw: float | None = None,
) -> Routing:
    """Decide the route from the findings, the policy and the halt switch.

    ``draw`` is the quality-review lottery number in [0, 1); tests pass it, the server
    leaves it to ``random``.
    """
    if any(f.action == "block" for f in findings):
        return Routing("blocked", "blocking_finding", findings)
    if halted:
        return Routing("pending_review", "system_halted", findings)
    impact = decision_type.effective_impact
    if impact == "human_only":
        return Routing("pending_review", "human_only", findings)
    if impact == "high":
        return Routing("pending_review", "high_impact", findings)
    if any(f.action == "review" for f in findings):
        return Routing("pending_review", "finding", findings)
    if decision_type.qa_sample_rate > 0:
        lottery = random.random() if draw is None else draw
        if lottery < decision_type.qa_sample_rate:
            return Routing("pending_review", "qa_sample", findings)
    return Routing("released", "low_impact", findings)
