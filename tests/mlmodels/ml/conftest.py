"""Small raw tables for the ML engine tests: every value is a string, as a CSV read
with ``dtype=str, keep_default_na=False`` gives it, missing values included.

The engine imports no Django, and its tests must run without it
(``-p no:django``): the project's autouse fixtures in ``tests/conftest.py`` need
pytest-django's ``settings``, so they are replaced here by no-ops of the same name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(autouse=True)
def _fresh_cache():
    yield


@pytest.fixture(autouse=True)
def _media_root():
    yield


@pytest.fixture(autouse=True)
def _fast_password_hasher():
    yield


def _raw_table(rows: int = 80, *, task: str = "classification", seed: int = 0) -> pd.DataFrame:
    """An id column, a constant column, numeric/categorical/boolean features with
    missing values, and a target that depends on ``signal`` and ``color``."""
    rng = np.random.RandomState(seed)
    signal = rng.normal(size=rows)
    noise = rng.normal(size=rows)
    colors = np.array(["red", "green", "blue"])[rng.randint(0, 3, size=rows)]
    flags = np.where(rng.rand(rows) > 0.5, "yes", "no")
    score = 2 * signal + (colors == "red") * 1.5 + 0.3 * noise
    frame = pd.DataFrame(
        {
            "id": [str(number) for number in range(1, rows + 1)],
            "signal": [f"{value:.4f}" for value in signal],
            "noise": [f"{value:.4f}" for value in noise],
            "color": colors,
            "flag": flags,
            "constant": ["same"] * rows,
        }
    )
    # A few missing values, spelled the ways real files spell them.
    for row, column, token in ((3, "signal", ""), (5, "color", "NA"), (7, "flag", "?")):
        if row < rows:
            frame.loc[row, column] = token
    if task == "classification":
        frame["label"] = np.where(score > np.median(score), "high", "low")
    else:
        frame["label"] = [f"{value:.4f}" for value in score * 10 + 50]
    return frame


@pytest.fixture
def raw_table():
    """The table factory: ``raw_table(rows=80, task="classification", seed=0)``."""
    return _raw_table


@pytest.fixture
def classification_table() -> pd.DataFrame:
    return _raw_table(task="classification")


@pytest.fixture
def regression_table() -> pd.DataFrame:
    return _raw_table(task="regression")
