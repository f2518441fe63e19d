"""The policy file: which systems exist, what is high impact, who may review.

The YAML is validated by pydantic; an error names the file, the line and the field, so
the person editing it can go straight there.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from fairness import BiasPolicy
from oversight.errors import PolicyError
from oversight.input_categories import InputDeclaration, match_category
from oversight.intensity.profile import IntensityPolicy, Profile, resolve_profiles
from oversight.yaml_files import parse_yaml_model, read_yaml_model

logger = logging.getLogger(__name__)

#: Decision categories that GDPR Art 22 and PWD Art 10(5) reserve to a human, whatever
#: the policy file says.
HUMAN_ONLY_CATEGORIES = frozenset(
    {"termination", "suspension", "restriction", "account_deactivation"}
)

#: Decision categories whose assignments (shifts, tasks) the intensity rules check.
INTENSITY_CATEGORIES = frozenset({"scheduling", "task_allocation"})

Impact = Literal["low", "high", "human_only"]
RiskClass = Literal["prohibited", "high", "limited", "minimal"]


class DecisionTypePolicy(BaseModel):
    """How one type of decision of one system is routed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: str = Field(min_length=1, max_length=100)
    impact: Impact = "high"
    qa_sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    review_sla_hours: int | None = Field(default=None, ge=1, le=24 * 365)
    four_eyes: bool | None = None
    bias: BiasPolicy | None = Field(
        default=None, description="A bias check over a window of this type's decisions"
    )

    @property
    def is_human_only(self) -> bool:
        return self.impact == "human_only" or self.category in HUMAN_ONLY_CATEGORIES

    @property
    def effective_impact(self) -> Impact:
        """The impact that applies: human-only categories override the file."""
        return "human_only" if self.is_human_only else self.impact

    @property
    def needs_four_eyes(self) -> bool:
        """Human-only categories need two reviewers unless the file says ``false``."""
        if self.four_eyes is not None:
            return self.four_eyes
        return self.category in HUMAN_ONLY_CATEGORIES


class SystemPolicy(BaseModel):
    """One wrapped AI system: its purpose, risk class and reviewers (AI Act Art 26(2))."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    purpose: str = Field(min_length=1, max_length=2000)
    known_limits: str | None = Field(
        default=None,
        max_length=5000,
        description="What the system is known to get wrong; shown to reviewers on every "
        "decision (AI Act Art 13(3)(b), Art 14(4)(a))",
    )
    risk_class: RiskClass
    use_case: str | None = None
    reviewers: list[str] = Field(default_factory=list)
    decision_types: dict[str, DecisionTypePolicy] = Field(min_length=1)
    callback_url: AnyHttpUrl | None = Field(
        default=None, description="Where final outcomes of reviewed decisions are POSTed"
    )
    inputs: dict[str, InputDeclaration] = Field(
        default_factory=dict,
        description="What each input field holds, by dotted path; undeclared fields are "
        "judged by their names",
    )
    intensity: IntensityPolicy = Field(
        default_factory=IntensityPolicy,
        description="Intensity checks on this system's scheduling and task decisions",
    )

    @field_validator("reviewers")
    @classmethod
    def _reviewers_are_unique(cls, reviewers: list[str]) -> list[str]:
        if len(set(reviewers)) != len(reviewers):
            raise ValueError("reviewers are listed more than once")
        return reviewers


class ComplaintsPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: PWD Art 11 asks for a reply within two weeks; GDPR Art 12(3) allows one month.
    sla_days: int = Field(default=14, ge=1, le=31)


class Policy(BaseModel):
    """The whole policy file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    systems: dict[str, SystemPolicy] = Field(min_length=1)
    complaints: ComplaintsPolicy = ComplaintsPolicy()
    intensity_profiles: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="More intensity rule profiles, each complete or `extends:` another",
    )

    @model_validator(mode="after")
    def _profiles_resolve(self) -> Policy:
        profiles = self.profiles
        for system_id, system in self.systems.items():
            if system.intensity.profile not in profiles:
                raise ValueError(
                    f"system {system_id!r} names the intensity profile "
                    f"{system.intensity.profile!r}; known: {', '.join(sorted(profiles))}"
                )
        return self

    @functools.cached_property
    def profiles(self) -> dict[str, Profile]:
        """Every intensity profile by name, built in and the file's own."""
        return resolve_profiles(self.intensity_profiles)

    def intensity_profile(self, system_id: str) -> Profile:
        return self.profiles[self.systems[system_id].intensity.profile]

    def decision_type(self, system_id: str, decision_type: str) -> DecisionTypePolicy | None:
        system = self.systems.get(system_id)
        return None if system is None else system.decision_types.get(decision_type)

    def reviews(self, reviewer: str, system_id: str) -> bool:
        system = self.systems.get(system_id)
        return system is not None and reviewer in system.reviewers

    def systems_reviewed_by(self, reviewer: str) -> list[str]:
        return [sid for sid, s in self.systems.items() if reviewer in s.reviewers]

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file, or raise ``PolicyError`` naming what to fix."""
    return _warn_about(read_yaml_model(path, Policy, what="policy", error=PolicyError), str(path))


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    policy = parse_yaml_model(text, Policy, source=source, what="policy", error=PolicyError)
    return _warn_about(policy, source)


def _warn_about(policy: Policy, source: str) -> Policy:
    for system_id, system in policy.systems.items():
        for path, declaration in system.inputs.items():
            looks_like = match_category(path.rsplit(".", 1)[-1])
            if declaration.category == "ordinary" and looks_like is not None:
                logger.warning(
                    "policy %s: %s input %r is declared ordinary but is named like %s data; "
                    "the guard will let it through on the strength of that declaration",
                    source,
                    system_id,
                    path,
                    looks_like.description,
                )
        for name, dtype in system.decision_types.items():
            if dtype.category in HUMAN_ONLY_CATEGORIES and dtype.four_eyes is False:
                logger.warning(
                    "policy %s: %s.%s is a %s decision with four_eyes: false; "
                    "one reviewer will decide it alone",
                    source,
                    system_id,
                    name,
                    dtype.category,
                )
    return policy
