"""The routes file: which upstream requests are decisions, and where their fields are.

Each field is either a JMESPath expression over ``{request, response}`` (the JSON
bodies) or a literal. A value is an expression when it starts with ``request`` or
``response``; anything else is taken as it is written (``system_id: cv-screening``).
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any, Literal

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from oversight.errors import ConfigurationError
from oversight.policy import Policy
from oversight.schemas import DecisionIn
from oversight.yaml_files import read_yaml_model

_EXPRESSION = re.compile(r"^(request|response)(\b|$)")
#: Fields of a decision that a route can fill, in DecisionIn's names.
DECISION_FIELDS = (
    "decision_id",
    "system_id",
    "decision_type",
    "subject_id",
    "outcome",
    "score",
    "model_version",
    "inputs",
    "protected",
    "explanation",
    "context",
    "occurred_at",
)
_IDENTIFIERS = ("decision_id", "system_id", "decision_type", "subject_id")


class RoutesError(ConfigurationError):
    """The routes file is invalid."""


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str = "POST"
    path: str = Field(min_length=1, description="Exact path, or a glob such as /v1/score/*")

    @field_validator("method")
    @classmethod
    def _upper(cls, method: str) -> str:
        return method.upper()

    def matches(self, method: str, path: str) -> bool:
        return method.upper() == self.method and fnmatch.fnmatchcase(path, self.path)


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    match: Match
    system_id: str
    decision_type: str
    subject_id: str
    outcome: str
    decision_id: str | None = None
    score: str | None = None
    model_version: str | None = None
    inputs: str | None = None
    protected: str | None = None
    explanation: str | None = None
    context: str | None = None
    occurred_at: str | None = None
    mode: Literal["hold", "advisory"] = "hold"

    @field_validator(*DECISION_FIELDS)
    @classmethod
    def _expression_compiles(cls, value: str | None) -> str | None:
        if value is not None and _EXPRESSION.match(value):
            try:
                jmespath.compile(value)
            except JMESPathError as exc:
                raise ValueError(f"not a valid JMESPath expression: {exc}") from exc
        return value

    @property
    def name(self) -> str:
        return f"{self.match.method} {self.match.path}"

    def decision(self, request: Any, response: Any) -> DecisionIn:
        """Build the decision from the two JSON bodies; raises ``ValueError`` saying
        which field could not be read."""
        document = {"request": request, "response": response}
        values: dict[str, Any] = {}
        for field in DECISION_FIELDS:
            spec = getattr(self, field)
            if spec is None:
                continue
            value = _compiled(spec).search(document) if _EXPRESSION.match(spec) else spec
            if value is None:
                continue
            if field in _IDENTIFIERS and isinstance(value, int | float):
                value = str(value)
            values[field] = value
        try:
            return DecisionIn.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"route {self.name} could not build a decision: {problems}") from exc


_CACHE: dict[str, ParsedResult] = {}


def _compiled(expression: str) -> ParsedResult:
    parsed = _CACHE.get(expression)
    if parsed is None:
        parsed = _CACHE[expression] = jmespath.compile(expression)
    return parsed


class Routes(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: list[Route] = Field(min_length=1)

    def find(self, method: str, path: str) -> Route | None:
        return next((r for r in self.routes if r.match.matches(method, path)), None)

    def check_against(self, policy: Policy) -> None:
        """Literal systems and decision types must exist in the policy."""
        for route in self.routes:
            literal_system = not _EXPRESSION.match(route.system_id)
            if literal_system and route.system_id not in policy.systems:
                raise RoutesError(
                    f"Route {route.name} names system {route.system_id!r}, which the "
                    "policy does not have."
                )
            if literal_system and not _EXPRESSION.match(route.decision_type):
                types = policy.systems[route.system_id].decision_types
                if route.decision_type not in types:
                    raise RoutesError(
                        f"Route {route.name} names decision type {route.decision_type!r}, "
                        f"which system {route.system_id!r} does not have."
                    )


def load_routes(path: Path) -> Routes:
    return read_yaml_model(path, Routes, what="routes", error=RoutesError)
