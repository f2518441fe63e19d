"""The shapes of what goes in and out of the API, with the size limits that keep bad
input to a clear 422."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, field_validator

from fairness import BiasFinding, BiasPolicy, FairnessReport

Identifier = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$")]
Severity = Literal["info", "warning", "critical"]
DecisionStatus = Literal[
    "released", "pending_review", "blocked", "approved", "overridden", "rejected"
]
ReviewAction = Literal["approve", "override", "reject"]
TaskStatus = Literal["pending", "awaiting_second_review", "decided"]
ComplaintStatus = Literal["open", "answered"]


class Factor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feature: str = Field(min_length=1, max_length=200)
    contribution: float = Field(allow_inf_nan=False)
    value: JsonValue = None


class Explanation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: str | None = Field(default=None, max_length=200)
    summary: str | None = Field(default=None, max_length=5000)
    factors: list[Factor] = Field(default_factory=list, max_length=500)


class DecisionIn(BaseModel):
    """One output of an AI system about one person (DESIGN.md, 'Contract clarifications')."""

    model_config = ConfigDict(extra="forbid")

    decision_id: Identifier | None = Field(
        default=None, description="Idempotency key; made up by the server when absent"
    )
    system_id: Identifier
    decision_type: Identifier
    subject_id: str = Field(min_length=1, max_length=500)
    outcome: JsonValue = Field(description="Any JSON value except null")
    score: float | None = Field(default=None, allow_inf_nan=False)
    model_version: str | None = Field(default=None, max_length=200)
    inputs: dict[str, JsonValue] = Field(default_factory=dict)
    protected: dict[str, str | int | float | bool | None] | None = None
    explanation: Explanation | None = None
    context: dict[str, JsonValue] | None = None
    occurred_at: AwareDatetime | None = None

    @field_validator("outcome")
    @classmethod
    def _outcome_is_given(cls, outcome: JsonValue) -> JsonValue:
        if outcome is None:
            raise ValueError("outcome must not be null")
        return outcome

    @field_validator("protected")
    @classmethod
    def _finite_protected(
        cls, protected: dict[str, str | int | float | bool | None] | None
    ) -> dict[str, str | int | float | bool | None] | None:
        for name, value in (protected or {}).items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"protected.{name} must be a finite number")
        return protected


class Finding(BaseModel):
    check: str
    severity: Severity
    message: str
    rule: str | None = Field(
        default=None, description="Which rule of the check fired (intensity, prohibited input)"
    )
    data: dict[str, JsonValue] | None = Field(
        default=None, description="The figures behind the message, for programs"
    )


class DecisionAccepted(BaseModel):
    decision_id: str
    status: DecisionStatus
    review_id: str | None
    receipt: str
    findings: list[Finding]


class ReviewRecord(BaseModel):
    review_id: str
    step: int
    reviewer: str
    action: ReviewAction
    outcome: JsonValue = None
    rationale: str
    claimed_at: datetime
    decided_at: datetime
    seconds_on_task: float


class DecisionRecord(BaseModel):
    decision_id: str
    system_id: str
    decision_type: str
    subject_ref: str = Field(description="Keyed hash of the subject id")
    outcome: JsonValue
    score: float | None
    model_version: str | None
    inputs: dict[str, JsonValue]
    protected: dict[str, Any] | None = Field(default=None, description="Shown to admins only")
    explanation: Explanation | None
    context: dict[str, JsonValue] | None
    occurred_at: datetime | None
    recorded_at: datetime
    status: DecisionStatus
    final_outcome: JsonValue = None
    findings: list[Finding]
    review_id: str | None
    reviews: list[ReviewRecord]


class ReviewTask(BaseModel):
    review_id: str
    decision_id: str
    system_id: str
    decision_type: str
    reason: str
    impact: str
    four_eyes: bool
    status: TaskStatus
    created_at: datetime
    due_at: datetime
    overdue: bool
    claimed_by: str | None
    claim_expires_at: datetime | None
    first_reviewer: str | None
    findings: list[Finding]
    complaint_id: str | None


class ReviewDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: ReviewAction
    outcome: JsonValue = Field(default=None, description="Required for override")
    rationale: str = Field(default="", max_length=10_000)


class ReviewDecided(BaseModel):
    review_id: str
    decision_id: str
    status: TaskStatus
    decision_status: DecisionStatus
    final_outcome: JsonValue = None


class HaltState(BaseModel):
    system_id: str
    halted: bool
    changed_at: datetime
    changed_by: str


class ExplanationFactor(BaseModel):
    feature: str
    contribution: float
    value: JsonValue = None


class WorkerExplanation(BaseModel):
    decision_id: str
    decision_type: str
    status: DecisionStatus
    outcome: JsonValue = Field(
        default=None, description="The outcome in force; none while a person reviews it"
    )
    human_reviewed: bool
    summary: str
    factors: list[ExplanationFactor]
    how_to_complain: str
    complaints: list[str] = Field(description="Ids of complaints lodged with this receipt")


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receipt: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=5000)
    contact: str | None = Field(default=None, max_length=320)


class ComplaintLodged(BaseModel):
    complaint_id: str
    status: ComplaintStatus
    due_at: datetime
    reference: str
    review_id: str


class ComplaintView(BaseModel):
    """What the worker sees of a complaint."""

    complaint_id: str
    reference: str
    status: ComplaintStatus
    lodged_at: datetime
    due_at: datetime
    answer: str | None
    outcome_changed: bool | None
    answered_at: datetime | None


class ComplaintRecord(ComplaintView):
    """What a reviewer or admin sees of a complaint."""

    decision_id: str
    system_id: str
    message: str
    contact: str | None
    review_id: str
    overdue: bool
    answered_by: str | None


class ComplaintAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: str = Field(min_length=1, max_length=10_000)
    outcome_changed: bool


class VerifyReport(BaseModel):
    ok: bool
    entries: int
    head: str
    first_bad_entry: int | None
    reason: str | None = None


class ErrorBody(BaseModel):
    error: str
    detail: str


class LabelIn(BaseModel):
    """Ground truth for a decision, known later: the outcome that proved right, or
    directly whether it was favourable to the person. Exactly one of the two."""

    model_config = ConfigDict(extra="forbid")

    favourable: bool | None = None
    outcome: JsonValue = None

    @field_validator("outcome")
    @classmethod
    def _outcome_is_small(cls, outcome: JsonValue) -> JsonValue:
        if isinstance(outcome, (dict, list)):
            raise ValueError("outcome must be a single value, such as 'hire'")
        return outcome


class LabelRecorded(BaseModel):
    decision_id: str
    favourable: bool
    outcome: JsonValue = None
    labelled_at: datetime
    labelled_by: str


class DecisionTypeFairness(BaseModel):
    decision_type: str
    policy: BiasPolicy
    report: FairnessReport | None = Field(description="None until the first computation")
    open_findings: list[BiasFinding]
    decisions_without_score: int = Field(
        description="Decisions a score rule could not judge for want of a score (not counted)"
    )


class SystemFairness(BaseModel):
    system_id: str
    decision_types: list[DecisionTypeFairness]
