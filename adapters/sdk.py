"""``@overseen``: put oversight around a Python function that makes decisions.

::

    @overseen(system_id="cv-screening", decision_type="shortlist", subject="candidate_id",
              via=OversightClient("http://127.0.0.1:8080", INGEST_KEY),
              explanation=lambda result: result.explanation)
    def screen(candidate_id: str, cv: dict) -> str: ...

The wrapped function runs as before; its result is recorded as the decision's outcome.
The caller gets the result itself when the decision is released, a ``PendingReview``
(holding the result as ``proposed``) while a human must look at it, and a
``DecisionBlocked`` error (holding the result too) when the checks block it: the
function's result is never silently dropped.

``via`` is an ``OversightClient`` (sync or async functions) or an in-process
``Oversight`` (async functions only, since it runs on the caller's event loop).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from oversight.client import OversightClient
from oversight.errors import OversightError
from oversight.schemas import DecisionAccepted, DecisionIn, Finding
from oversight.service import Oversight

Extract = Callable[[Any], Any]


@dataclass(frozen=True)
class PendingReview:
    """The decision waits for a human; ``proposed`` is what the function returned."""

    decision_id: str
    review_id: str | None
    receipt: str
    proposed: Any


class DecisionBlocked(OversightError):
    """The checks blocked the decision; ``result`` is what the function returned."""

    def __init__(self, accepted: DecisionAccepted, result: Any) -> None:
        checks = ", ".join(f.check for f in accepted.findings) or "a blocking check"
        super().__init__(f"Decision {accepted.decision_id} was blocked by {checks}.")
        self.decision_id = accepted.decision_id
        self.findings: list[Finding] = accepted.findings
        self.result = result


def overseen(
    *,
    system_id: str,
    decision_type: str,
    subject: str | Callable[..., str],
    via: OversightClient | Oversight,
    outcome: Extract | None = None,
    score: Extract | None = None,
    explanation: Extract | None = None,
    inputs: Callable[..., dict[str, Any]] | None = None,
    model_version: str | None = None,
    submitted_by: str = "sdk",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a decision-making function; see the module docstring.

    ``subject`` names the argument that holds the subject id, or computes it from the
    call's arguments. ``outcome``, ``score`` and ``explanation`` take the function's
    result; ``inputs`` takes the call's arguments. ``submitted_by`` names the caller for
    in-process use (over HTTP the ingest key names it).
    """

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(function)
        if isinstance(subject, str) and subject not in signature.parameters:
            raise TypeError(
                f"@overseen(subject={subject!r}): {function.__qualname__} has no argument "
                f"{subject!r}; name one of {', '.join(signature.parameters)} or pass a callable."
            )
        is_async = inspect.iscoroutinefunction(function)
        if isinstance(via, Oversight) and not is_async:
            raise TypeError(
                f"@overseen(via=Oversight(...)) needs an async function; {function.__qualname__} "
                "is sync: pass an OversightClient instead."
            )

        def decision(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> DecisionIn:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            subject_id = (
                bound.arguments[subject] if isinstance(subject, str) else subject(*args, **kwargs)
            )
            return DecisionIn.model_validate(
                {
                    "system_id": system_id,
                    "decision_type": decision_type,
                    "subject_id": str(subject_id),
                    "outcome": outcome(result) if outcome else result,
                    "score": score(result) if score else None,
                    "explanation": explanation(result) if explanation else None,
                    "inputs": inputs(*args, **kwargs) if inputs else {},
                    "model_version": model_version,
                }
            )

        if is_async:

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                result = await function(*args, **kwargs)
                accepted = await _submit_async(via, decision(args, kwargs, result), submitted_by)
                return _answer(accepted, result)

            return async_wrapper

        assert isinstance(via, OversightClient)
        client = via

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = function(*args, **kwargs)
            return _answer(client.submit(decision(args, kwargs, result)), result)

        return wrapper

    return decorate


def _submit_async(
    via: OversightClient | Oversight, decision: DecisionIn, submitted_by: str
) -> Awaitable[DecisionAccepted]:
    async def submit() -> DecisionAccepted:
        if isinstance(via, Oversight):
            return (await via.submit(decision, submitted_by=submitted_by)).accepted
        return await via.submit_async(decision)

    return submit()


def _answer(accepted: DecisionAccepted, result: Any) -> Any:
    if accepted.status == "released":
        return result
    if accepted.status == "blocked":
        raise DecisionBlocked(accepted, result)
    return PendingReview(accepted.decision_id, accepted.review_id, accepted.receipt, result)
