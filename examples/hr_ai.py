"""An example HR AI for the demo: a logistic-regression CV screen trained at start-up,
and a toy shift planner.

It knows nothing of oversight. It is trained on applicants generated here (years of
experience, certificates, commuting distance, shift flexibility; a fixed seed, so every
start gives the same model) and explains each answer by the contribution of each feature:
coefficient times the feature's distance from the training mean, in log-odds.

    python -m uvicorn examples.hr_ai:app --port 9000
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel, Field
from sklearn.linear_model import LogisticRegression

FEATURES = ("years_experience", "certificates", "distance_km", "shift_flexibility")
MODEL_VERSION = "cv-screen-logreg-2026.11"


def training_data(n: int = 5000, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    years = rng.gamma(2.0, 2.5, n).clip(0, 30)
    certificates = rng.poisson(1.2, n)
    distance = rng.exponential(15, n).clip(0, 120)
    flexibility = rng.uniform(0, 1, n)
    logit = 0.45 * years + 0.6 * certificates - 0.04 * distance + 1.5 * flexibility - 2.6
    hired = rng.uniform(0, 1, n) < 1 / (1 + np.exp(-logit))
    return np.column_stack([years, certificates, distance, flexibility]), hired.astype(int)


X, y = training_data()
model = LogisticRegression(max_iter=1000).fit(X, y)
means = X.mean(axis=0)
app = FastAPI(title="Example CV screen")


class Application(BaseModel):
    candidate_id: str
    features: dict[str, float] = Field(description=f"The features {', '.join(FEATURES)}")
    protected: dict[str, str] | None = None


@app.post("/v1/score")
def score(application: Application) -> dict[str, Any]:
    row = np.array(
        [[application.features.get(name, float(means[i])) for i, name in enumerate(FEATURES)]]
    )
    probability = float(model.predict_proba(row)[0, 1])
    contributions = model.coef_[0] * (row[0] - means)
    factors = sorted(
        (
            {"feature": name, "contribution": round(float(c), 4), "value": float(row[0, i])}
            for i, (name, c) in enumerate(zip(FEATURES, contributions, strict=True))
        ),
        key=lambda f: abs(f["contribution"]),
        reverse=True,
    )
    top = factors[0]
    direction = "raised" if top["contribution"] > 0 else "lowered"
    return {
        "decision": "shortlist" if probability >= 0.5 else "reject",
        "score": round(probability, 4),
        "model_version": MODEL_VERSION,
        "explanation": {
            "method": "logistic-regression coefficients x (value - mean)",
            "summary": f"{top['feature'].replace('_', ' ')} {direction} the score most.",
            "factors": factors,
        },
    }


@app.post("/v1/mood")
def mood(application: Application) -> dict[str, Any]:
    """A practice the AI Act forbids at work (emotion recognition, Art 5(1)(f)), here so
    the demo can show the sidecar blocking it."""
    return {"stress": 0.73, "candidate_id": application.candidate_id}


AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class RosterRequest(BaseModel):
    employee_id: str
    week_start: date = Field(description="The Monday of the week to plan")


@app.post("/v1/roster")
def roster(request: RosterRequest) -> dict[str, Any]:
    """A week of shifts for one employee. The planner fills gaps greedily: for some
    employees it plans late-then-early turnarounds or a long Saturday, the kind of
    roster the sidecar's working-time checks exist to catch."""
    number = sum(map(ord, request.employee_id))
    if number % 4 == 0:  # two late-early turnarounds in one week
        plan = [(0, "14:00", 8.5), (1, "06:00", 8.5), (2, "14:00", 8.5), (3, "06:00", 8.5)]
    elif number % 5 == 0:  # a 13-hour Saturday
        plan = [(0, "07:00", 8.5), (1, "07:00", 8.5), (2, "07:00", 8.5), (5, "07:00", 13)]
    else:
        plan = [(day, "07:00", 8.5) for day in range(5)]
    shifts = []
    for day, start, hours in plan:
        begin = datetime.combine(
            request.week_start + timedelta(days=day), time.fromisoformat(start), AMSTERDAM
        )
        pause = begin + timedelta(hours=4)
        shifts.append(
            {
                "shift_id": f"{request.employee_id}-{begin:%Y%m%d}",
                "start": begin.isoformat(),
                "end": (begin + timedelta(hours=hours)).isoformat(),
                "breaks": [
                    {"start": pause.isoformat(), "end": (pause + timedelta(minutes=30)).isoformat()}
                ],
            }
        )
    return {
        "status": "proposed",
        "plan": {"shifts": shifts},
        "explanation": {
            "method": "greedy gap filling",
            "summary": f"{len(shifts)} shifts where the week's demand had gaps.",
        },
    }
