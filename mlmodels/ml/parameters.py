"""One hyperparameter's schema: its type, range, choices and default, how a
user-facing value is checked (``HyperParameter.clean``) and how the schema is shown to
forms and the API (``as_dict``). The algorithms that use them are in catalog.py; the
search space is derived from the same objects in space.py.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

PARAMETER_TYPES = ("int", "float", "bool", "choice")


@dataclass(frozen=True)
class NumberRange:
    """Numbers a ``choice`` parameter takes besides its named choices (e.g. a random
    forest's ``max_features``: sqrt, log2, all, or a share of the features)."""

    min: float | None = None
    max: float | None = None
    # True: ``min`` itself is refused (a share must be more than 0).
    min_exclusive: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"min": self.min, "max": self.max, "min_exclusive": self.min_exclusive}

    def describe(self) -> str:
        low = None
        if self.min is not None:
            low = f"{'greater than' if self.min_exclusive else 'at least'} {_number(self.min)}"
        high = f"at most {_number(self.max)}" if self.max is not None else None
        return "a number " + " and ".join(part for part in (low, high) if part) if low or high else "a number"

    def contains(self, number: float) -> bool:
        if self.min is not None and (number < self.min or (self.min_exclusive and number == self.min)):
            return False
        return self.max is None or number <= self.max


@dataclass
class HyperParameter:
    name: str
    type: str
    default: Any
    min: float | None = None
    max: float | None = None
    choices: list[str] | None = None
    help: str = ""
    # ``None`` is an accepted value (e.g. ``max_depth=None`` means "no limit").
    nullable: bool = False
    # ``choice`` only: numbers accepted alongside the named choices.
    numbers: NumberRange | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices) if self.choices is not None else None,
            "numbers": self.numbers.as_dict() if self.numbers is not None else None,
            "help": self.help,
            "nullable": self.nullable,
        }

    def clean(self, value: Any) -> tuple[Any, str | None]:
        """Return ``(python value, None)`` or ``(None, message)``."""
        if value is None:
            if self.nullable:
                return None, None
            return None, "is required (null is not allowed)"
        if self.type == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value), None
            return None, f"must be true or false, not {_describe(value)}"
        if self.type == "choice":
            return self._clean_choice(value)
        # int and float: bool is an int subclass in Python, but True is not a number
        # a user means; strings are refused rather than parsed so the API stays typed.
        if not _is_number(value):
            kind = "an integer" if self.type == "int" else "a number"
            return None, f"must be {kind}, not {_describe(value)}"
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return None, "must be a finite number"
        if self.type == "int":
            if not isinstance(value, numbers.Integral) and not number.is_integer():
                return None, f"must be a whole number (got {value!r})"
            cleaned: float | int = int(value)
        else:
            cleaned = number
        if (self.min is not None and cleaned < self.min) or (self.max is not None and cleaned > self.max):
            bounds = f"{_number(self.min)} and {_number(self.max)}"
            return None, f"must be between {bounds} (got {cleaned!r})"
        return cleaned, None

    def _clean_choice(self, value: Any) -> tuple[Any, str | None]:
        assert self.choices is not None
        if isinstance(value, str) and value in self.choices:
            return value, None
        if self.numbers is not None and _is_number(value):
            number = float(value)
            if math.isfinite(number) and self.numbers.contains(number):
                return number, None
        listed = ", ".join(self.choices)
        if self.numbers is not None:
            listed += f", or {self.numbers.describe()}"
        return None, f"must be one of: {listed} (got {_describe(value)})"


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, (bool, np.bool_)):
        return f"the boolean {str(bool(value)).lower()}"
    return f"{type(value).__name__} {str(value)[:40]}"


def _number(value: float | None) -> str:
    if value is None:
        return "unbounded"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
