"""The policy file: which systems exist, what is high impact, who may review.

The YAML is validated by pydantic; an error names the file, the line and the field, so
the person editing it can go straight there.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from oversight.errors import PolicyError

logger = logging.getLogger(__name__)

#: Decision categories that GDPR Art 22 and PWD Art 10(5) reserve to a human, whatever
#: the policy file says.
HUMAN_ONLY_CATEGORIES = frozenset(
    {"termination", "suspension", "restriction", "account_deactivation"}
)

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
    risk_class: RiskClass
    use_case: str | None = None
    reviewers: list[str] = Field(default_factory=list)
    decision_types: dict[str, DecisionTypePolicy] = Field(min_length=1)

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
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"Cannot read the policy file {path}: {exc.strerror}.") from exc
    return parse_policy(text, source=str(path))


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{source}{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: the policy must be a mapping with a 'systems' key.")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = [str(part) for part in error["loc"]]
            line = _line_of(root, loc)
            where = f" line {line}" if line else ""
            problems.append(f"{source}{where}: {'.'.join(loc) or '(top)'}: {error['msg']}")
        raise PolicyError("Invalid policy file:\n  " + "\n  ".join(problems)) from exc
    for system_id, system in policy.systems.items():
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


def _line_of(node: Any, loc: list[str]) -> int | None:
    """The 1-based line of the deepest YAML node that ``loc`` reaches."""
    line = None
    for part in loc:
        if node is None:
            break
        line = int(node.start_mark.line) + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if str(k.value) == part), None)
            if node is None:
                return line
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
        else:
            return line
    return int(node.start_mark.line) + 1 if node is not None else line
