"""Confusion counts per group: how many people of each group got each prediction, and,
once ground truth is known, each (truth, prediction) pair.

A report over a million decisions needs only these few cells, and fairlearn computes the
same rates from them with the counts as sample weights as it does from the rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: One value per attribute, in the order of ``Counts.attributes``; ``None`` is missing.
Group = tuple[str | None, ...]
#: (group, y_true or None while unknown, y_pred), y_* being 1 for favourable.
Cell = tuple[Group, int | None, int]


def group_value(value: Any) -> str | None:
    """A protected attribute's value as a group name; missing, null or blank is ``None``
    (counted as missing, never guessed)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def group_of(protected: Mapping[str, Any] | None, attributes: tuple[str, ...]) -> Group:
    """The group of one person, from a decision's ``protected`` field."""
    protected = protected or {}
    return tuple(group_value(protected.get(name)) for name in attributes)


@dataclass
class Counts:
    """People per cell, for the attributes of one check."""

    attributes: tuple[str, ...]
    cells: Counter[Cell] = field(default_factory=Counter)

    @classmethod
    def from_rows(
        cls, attributes: tuple[str, ...], rows: Iterable[tuple[Group, int | None, int]]
    ) -> Counts:
        return cls(attributes, Counter(rows))

    def add(self, group: Group, y_true: int | None, y_pred: int, n: int = 1) -> None:
        cell = (group, y_true, y_pred)
        count = self.cells[cell] + n
        if count:
            self.cells[cell] = count
        else:
            del self.cells[cell]

    @property
    def total(self) -> int:
        return sum(self.cells.values())

    @property
    def labelled(self) -> int:
        return sum(n for (_, y_true, _), n in self.cells.items() if y_true is not None)

    def copy(self) -> Counts:
        return Counts(self.attributes, Counter(self.cells))
