"""Summarise a py-spy ``--format raw`` (collapsed stacks) profile: the functions with the
most time spent in them (self) and under them (inclusive).

    py-spy record -r 500 -f raw -o prof.txt -- .venv/bin/oversight audit verify --db URL
    .venv/bin/python bench/flame_summary.py prof.txt [--top 25] [--grep oversight]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path


def frame_name(frame: str) -> str:
    # py-spy frames look like "function (path/to/file.py:123)"; keep file name and function
    match = re.match(r"(.*) \((.*?):?(\d*)\)$", frame)
    if not match:
        return frame
    function, path, line = match.groups()
    short = "/".join(Path(path).parts[-2:])
    return f"{function} ({short}:{line})" if line else f"{function} ({short})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--grep", default=None, help="only list frames whose name contains this")
    parser.add_argument(
        "--exclude", action="append", default=[],
        help="drop stacks with a frame containing this (e.g. 'Condition.wait' for idle threads)",
    )  # fmt: skip
    parser.add_argument("--strip-lines", action="store_true", help="merge lines of one function")
    args = parser.parse_args()

    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    total = 0
    for raw in args.profile.read_text().splitlines():
        if not raw.strip():
            continue
        stack, _, count_text = raw.rpartition(" ")
        if any(word in stack for word in args.exclude):
            continue
        count = int(count_text)
        total += count
        frames = [frame_name(f) for f in stack.split(";") if f]
        if args.strip_lines:
            frames = [re.sub(r":\d+\)$", ")", f) for f in frames]
        if frames:
            own[frames[-1]] += count
        for name in set(frames):
            under[name] += count
    print(f"{total} samples")
    for title, counter in (("self", own), ("inclusive", under)):
        print(f"\n--- {title} ---")
        shown = 0
        for name, count in counter.most_common():
            if args.grep and args.grep not in name:
                continue
            print(f"{100 * count / total:6.1f}%  {name}")
            shown += 1
            if shown >= args.top:
                break


if __name__ == "__main__":
    main()
