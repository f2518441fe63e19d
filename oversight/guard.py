"""The prohibited-input guard: a decision built on data the law forbids is blocked.

Runs before anything is recorded. Each input field is judged by what the policy declares
for it; an undeclared field by its name (``input_categories``). A hit blocks the decision
with a finding naming the field, the category and the article, and the field's value is
withheld from the record: keeping it would be processing the very data the law forbids.
A declared exception (emotion data for safety, biometrics for authentication) lets the
decision through and is logged on every decision that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oversight.input_categories import CATEGORIES, InputDeclaration, match_category
from oversight.routing import CheckedFinding
from oversight.schemas import Finding

WITHHELD = "[withheld: prohibited input]"


@dataclass(frozen=True)
class GuardResult:
    findings: list[CheckedFinding] = field(default_factory=list)
    #: Dotted paths of the fields whose values must not be stored.
    withheld: frozenset[str] = frozenset()


def guard_inputs(inputs: dict[str, Any], declared: dict[str, InputDeclaration]) -> GuardResult:
    """Judge every field of ``inputs``: nested objects too, by dotted path (list items
    share their list's path). A field that is withheld is not looked inside."""
    findings: dict[str, CheckedFinding] = {}
    withheld: set[str] = set()

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item, prefix)
            return
        if not isinstance(value, dict):
            return
        for key, item in value.items():
            path = f"{prefix}{key}"
            if path not in findings:
                finding = _judge(path, declared.get(path))
                if finding is not None:
                    findings[path] = finding
                    if finding.action == "block":
                        withheld.add(path)
            if path not in withheld:
                walk(item, f"{path}.")

    walk(inputs, "")
    return GuardResult(list(findings.values()), frozenset(withheld))


def _judge(path: str, declaration: InputDeclaration | None) -> CheckedFinding | None:
    if declaration is not None:
        if declaration.category == "ordinary":
            return None
        category = CATEGORIES[declaration.category]
    else:
        matched = match_category(path.rsplit(".", 1)[-1])
        if matched is None:
            return None
        category = matched
    exception = declaration.exception if declaration is not None else None
    if exception is not None:
        return CheckedFinding(
            Finding(
                check="prohibited_input_exception",
                rule=category.name,
                severity="info",
                message=(
                    f"Input field {path!r} holds {category.description} data, used under "
                    f"the declared {exception.use} exception ({category.article}): "
                    f"{exception.justification}"
                ),
                data={
                    "field": path,
                    "category": category.name,
                    "article": category.article,
                    "use": exception.use,
                    "justification": exception.justification,
                },
            )
        )
    how = "declared in the policy as" if declaration is not None else "named like"
    return CheckedFinding(
        Finding(
            check="prohibited_input",
            rule=category.name,
            severity="critical",
            message=(
                f"Input field {path!r} is {how} {category.description} data, which may not "
                f"be used to manage workers ({category.article}). The decision is blocked "
                "and the field's value was not stored. If the field holds something else, "
                "declare it in the policy under this system's inputs."
            ),
            data={
                "field": path,
                "category": category.name,
                "article": category.article,
                "declared": declaration is not None,
            },
        ),
        action="block",
    )


def withhold(inputs: dict[str, Any], paths: frozenset[str]) -> dict[str, Any]:
    """A copy of ``inputs`` with the values at ``paths`` replaced by a marker."""
    return {
        key: WITHHELD if key in paths else _withhold(value, paths, f"{key}.")
        for key, value in inputs.items()
    }


def _withhold(value: Any, paths: frozenset[str], prefix: str) -> Any:
    if isinstance(value, dict):
        copy: dict[str, Any] = {}
        for key, item in value.items():
            path = f"{prefix}{key}"
            copy[key] = WITHHELD if path in paths else _withhold(item, paths, f"{path}.")
        return copy
    if isinstance(value, list):
        return [_withhold(item, paths, prefix) for item in value]
    return value
