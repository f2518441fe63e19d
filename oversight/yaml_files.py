"""YAML configuration files (policy, routes) validated by pydantic, with errors that
name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from oversight.errors import ConfigurationError

M = TypeVar("M", bound=BaseModel)


def read_yaml_model(path: Path, model: type[M], *, what: str, error: type[ConfigurationError]) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"Cannot read the {what} file {path}: {exc.strerror}.") from exc
    return parse_yaml_model(text, model, source=str(path), what=what, error=error)


def parse_yaml_model(
    text: str, model: type[M], *, source: str, what: str, error: type[ConfigurationError]
) -> M:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise error(f"{source}{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"{source}: the {what} file must be a YAML mapping.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for problem in exc.errors():
            loc = [str(part) for part in problem["loc"]]
            line = _line_of(root, loc)
            where = f" line {line}" if line else ""
            problems.append(f"{source}{where}: {'.'.join(loc) or '(top)'}: {problem['msg']}")
        raise error(f"Invalid {what} file:\n  " + "\n  ".join(problems)) from exc


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
