"""The figures file of the reliability suite: numbers a test measured, merged under
the test's section into var/reliability/figures.json, which docs/RELIABILITY.md quotes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import BASE_DIR

FIGURES_PATH = BASE_DIR / "var" / "reliability" / "figures.json"


@dataclass
class Figures:
    """Numbers a test measured, merged into var/reliability/figures.json under its
    section name (the doc quotes them)."""

    section: str
    values: dict[str, Any] = field(default_factory=dict)

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = value

    def save(self) -> None:
        FIGURES_PATH.parent.mkdir(parents=True, exist_ok=True)
        lock = FIGURES_PATH.with_suffix(".lock")
        with open(lock, "w") as handle:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                current = json.loads(FIGURES_PATH.read_text()) if FIGURES_PATH.exists() else {}
            except ValueError:
                current = {}
            current[self.section] = {
                **self.values,
                "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            FIGURES_PATH.write_text(json.dumps(current, indent=2, sort_keys=True, default=str) + "\n")
