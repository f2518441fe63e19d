"""Split a py-spy raw profile of the sidecar (bench/proxy.py --profile DIR) into the steps
of a proxied request: HTTP server, routing, the upstream call, building the decision,
the policy checks, the recorder's transaction, the event loop.

    .venv/bin/python bench/proxy_split.py /tmp/prof/postgres-throughput-sidecar-0.txt

Each sample goes to the first step (in the order below) that one of its frames names.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

#: (step, substrings of a frame); the first step with a matching frame takes the sample.
STEPS = (
    ("recorder transaction (record_many: SQL, rows, hashing, commit)", ("record_many", "_write (")),
    # SQLAlchemy runs statements in greenlets whose stacks do not show record_many
    ("recorder transaction (record_many: SQL, rows, hashing, commit)", ("sqlalchemy/",)),
    ("recorder loop other (queue, futures)", ("DecisionRecorder._run",)),
    ("upstream call (HttpProxy._forward, aiohttp client)", ("_forward",)),
    ("build the decision (Route.decision: JMESPath, DecisionIn)", ("Route.decision",)),
    (
        "checks before recording (Oversight.prepare/submit)",
        ("Oversight.prepare", "Oversight.submit"),
    ),
    ("proxy rest (body, json.loads, headers, send)", ("HttpProxy",)),
    ("FastAPI routing before the proxy (route matching)", ("matches (", "_match (")),
    (
        "HTTP server, middleware (uvicorn, Starlette, FastAPI)",
        ("run_asgi", "httptools_impl", "h11_impl"),
    ),
    ("aiohttp client protocol (answers arriving)", ("aiohttp/",)),
    ("database driver callbacks (asyncpg/aiosqlite)", ("asyncpg", "aiosqlite")),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    args = parser.parse_args()
    shares: Counter[str] = Counter()
    total = 0
    for raw in args.profile.read_text().splitlines():
        if not raw.strip():
            continue
        stack, _, count_text = raw.rpartition(" ")
        count = int(count_text)
        total += count
        frames = stack.split(";")
        step = next(
            (name for name, keys in STEPS if any(k in f for f in frames for k in keys)), None
        )
        if step is None:
            last = frames[-1]
            if "Thread" in stack or "threading" in stack:
                step = "other threads (aiosqlite worker, thread pool)"
            elif last.startswith("Runner.run") or last.startswith("run ("):
                step = "event loop itself (uvloop: polling, callbacks, I/O)"
            else:
                step = "other"
        shares[step] += count
    print(f"{total} samples (busy only)")
    for step, count in shares.most_common():
        print(f"{100 * count / total:6.1f}%  {step}")


if __name__ == "__main__":
    main()
