"""What a bias check looks at and what it counts as unequal: the ``bias`` block of a
decision type in the policy file, also used by the batch audit of a CSV."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

#: Which group the others are compared with: the one with the highest selection rate
#: (EEOC, NYC LL144), the largest one, or a named one (``{gender: male}``).
ReferenceRule = Literal["highest_rate", "largest_group"] | dict[str, str]
Action = Literal["alert", "review_unfavourable"]


class ScoreThreshold(BaseModel):
    """A decision is favourable when its score is at least this."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score_at_least: float = Field(allow_inf_nan=False)


class BiasWindow(BaseModel):
    """The decisions a check looks at: the last ``decisions`` and/or those of the last
    ``days`` (both given: both limits apply)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decisions: int | None = Field(default=10_000, ge=1, le=10_000_000)
    days: float | None = Field(default=None, gt=0, le=3660)

    @model_validator(mode="after")
    def _bounded(self) -> BiasWindow:
        if self.decisions is None and self.days is None:
            raise ValueError("a window needs decisions, days, or both")
        return self


class BiasPolicy(BaseModel):
    """One bias check on one decision type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    favourable: list[JsonValue] | ScoreThreshold = Field(
        description="Outcome values that are favourable to the person, or a score threshold"
    )
    attributes: list[str] = Field(min_length=1, max_length=5)
    reference: ReferenceRule = "highest_rate"
    window: BiasWindow = BiasWindow()
    min_group_size: int = Field(default=30, ge=1)
    threshold: float = Field(default=0.8, gt=0, lt=1)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    action: Action = "alert"

    @field_validator("attributes")
    @classmethod
    def _unique(cls, attributes: list[str]) -> list[str]:
        if len(set(attributes)) != len(attributes):
            raise ValueError("attributes are listed more than once")
        return attributes

    @field_validator("favourable")
    @classmethod
    def _some_outcome(
        cls, favourable: list[JsonValue] | ScoreThreshold
    ) -> list[JsonValue] | ScoreThreshold:
        if isinstance(favourable, list) and not favourable:
            raise ValueError("list at least one favourable outcome, or give score_at_least")
        return favourable

    @model_validator(mode="after")
    def _reference_names_attributes(self) -> BiasPolicy:
        if isinstance(self.reference, dict):
            unknown = set(self.reference) - set(self.attributes)
            if unknown:
                raise ValueError(
                    f"the reference names {', '.join(sorted(unknown))}, which are not among "
                    f"the attributes ({', '.join(self.attributes)})"
                )
        return self

    def is_favourable(self, outcome: JsonValue, score: float | None) -> bool | None:
        """Whether a decision is favourable; ``None`` when a score rule meets no score."""
        if isinstance(self.favourable, ScoreThreshold):
            return None if score is None else score >= self.favourable.score_at_least
        return outcome in self.favourable
