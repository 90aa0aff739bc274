"""Benchmark: an experiment (``run_search`` with default settings, then ``train_model``
on the winner) against CatBoost at its library defaults, on the same holdout.

    .venv/bin/python bench/bench_experiments.py                 # all four datasets
    .venv/bin/python bench/bench_experiments.py --only heart --max-trials 10
    .venv/bin/python bench/bench_experiments.py --only heart --only titanic --seeds 1 2 3 4 5

For each public dataset (kept beside the project: ``../shared/data``) the engine reads
the CSV, splits the holdout (test_size 0.2, seed 42), searches on the training part
only, and trains the winner with train_model on the same split; its holdout ROC AUC
(macro one-vs-rest for several classes) is compared with a five-line CatBoost script
fitted on the same training rows and feature columns and scored on the same holdout.
Prints a table; asserts nothing. The done-criterion of issue 12: every experiment
within 10 minutes on a 2-core machine, and the winner's AUC >= the CatBoost one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))

from mlmodels.ml.csvio import read_table  # noqa: E402
from mlmodels.ml.holdout import load_rows, split_holdout  # noqa: E402
from mlmodels.ml.metrics import roc_auc  # noqa: E402
from mlmodels.ml.search import check_search, run_search  # noqa: E402
from mlmodels.ml.training import train_model  # noqa: E402

# name: (file, target); targets as documented in ../shared/data/SOURCES.md.
DATASETS = {
    "heart": ("heart.csv", "target"),
    "cirrhosis": ("cirrhosis.csv", "Status"),
    "titanic": ("titanic_train.csv", "Survived"),
    "adult": ("adult.csv", "class"),
}
TEST_SIZE = 0.2
SEED = 42


def catboost_defaults(rows, holdout, seed: int) -> tuple[np.ndarray, list, float]:
    """The script a user would write: CatBoost with its defaults on the same rows and
    the same feature columns (categorical ones given as cat_features)."""
    from catboost import CatBoostClassifier

    started = time.perf_counter()
    x_train, x_test = holdout.x_train.copy(), holdout.x_test.copy()
    cats = [feature.name for feature in rows.features if feature.kind != "numeric"]
    for frame in (x_train, x_test):  # CatBoost refuses NaN in a categorical column
        frame[cats] = frame[cats].fillna("missing")
    # allow_writing_files=False only keeps catboost_info/ out of the working directory.
    model = CatBoostClassifier(random_seed=seed, verbose=False, cat_features=cats, allow_writing_files=False)
    model.fit(x_train, holdout.y_train)
    probabilities = model.predict_proba(x_test)
    classes = [value.item() if isinstance(value, np.generic) else value for value in model.classes_]
    return probabilities, classes, time.perf_counter() - started


def bootstrap_difference(y_test, ours, theirs, classes, samples: int = 1000) -> tuple[float, float]:
    """A 95% interval of (our AUC - CatBoost's AUC) over holdout rows drawn with
    replacement (the same draws for both): how much of a gap the holdout can tell."""
    rng = np.random.RandomState(SEED)
    differences = []
    for _ in range(samples):
        rows = rng.randint(0, len(y_test), len(y_test))
        first, second = (
            roc_auc(y_test[rows], ours[rows], classes),
            roc_auc(y_test[rows], theirs[rows], classes),
        )
        if first is not None and second is not None:
            differences.append(first - second)
    low, high = np.percentile(differences, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def run(name: str, max_trials: int, time_budget: float, seed: int = SEED) -> dict:
    file, target = DATASETS[name]
    frame = read_table(DATA / file, max_rows=1_000_000, max_columns=1_000).frame
    plan = check_search(
        "classification", max_trials=max_trials, time_budget_seconds=time_budget, random_state=seed
    )
    started = time.perf_counter()
    search = run_search(frame, plan, target=target, test_size=TEST_SIZE, random_state=seed)
    assert search.best is not None, f"{name}: no trial completed"
    trained = train_model(
        frame,
        target=target,
        algorithm=search.best.algorithm,
        hyperparameters=search.best.hyperparameters,
        test_size=TEST_SIZE,
        random_state=seed,
    )
    seconds = time.perf_counter() - started
    rows = load_rows(frame, target=target, task="classification", features=None)
    holdout = split_holdout(rows, task="classification", test_size=TEST_SIZE, random_state=seed)
    theirs, classes, baseline_seconds = catboost_defaults(rows, holdout, seed)
    # The served model was refit on every row; the holdout fit gives the holdout's
    # probabilities (its metrics are the ones train_model reported).
    holdout_fit = train_model(
        frame,
        target=target,
        algorithm=search.best.algorithm,
        hyperparameters=search.best.hyperparameters,
        test_size=TEST_SIZE,
        random_state=seed,
        refit_full=False,
    )
    assert holdout_fit.metrics["roc_auc"] == trained.metrics["roc_auc"]
    ours = holdout_fit.pipeline.predict_proba(holdout.x_test)
    assert list(holdout_fit.feature_schema.classes) == classes
    # Defaults run first, so the first CatBoost trial is CatBoost's defaults.
    default_trial = next((t for t in search.trials if t.algorithm == "catboost_classifier"), None)
    states = [trial.state for trial in search.trials]
    return {
        "dataset": name,
        "seed": seed,
        "rows": len(rows.labels),
        "seconds": round(seconds, 1),
        "search_seconds": round(search.seconds, 1),
        "train_seconds": trained.timings["total_seconds"],
        "complete": states.count("complete"),
        "pruned": states.count("pruned"),
        "failed": states.count("failed"),
        "stopped_because": search.stopped_because,
        "skipped": search.skipped_algorithms,
        "winner": search.best.algorithm,
        "winner_cv_auc": search.best.cv_mean,
        "winner_hyperparameters": search.best.hyperparameters,
        "winner_auc": trained.metrics["roc_auc"],
        "catboost_defaults_auc": roc_auc(holdout.y_test, theirs, classes),
        "difference_95": bootstrap_difference(holdout.y_test, ours, theirs, classes),
        "catboost_defaults_cv_auc": default_trial.cv_mean if default_trial else None,
        "catboost_defaults_seconds": round(baseline_seconds, 1),
        "trials": [dataclasses.asdict(trial) for trial in search.trials],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(DATASETS), action="append", help="run only these")
    parser.add_argument("--max-trials", type=int, default=30)
    parser.add_argument("--time-budget", type=float, default=600.0)
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[SEED],
        help="one experiment per holdout split and search seed",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.only or list(DATASETS):
        for seed in args.seeds:
            result = run(name, args.max_trials, args.time_budget, seed)
            results.append(result)
            print(json.dumps({key: value for key, value in result.items() if key != "trials"}), flush=True)
    header = (
        "| dataset | seed | rows | time (s) | trials complete/pruned/failed | stopped | winner | "
        "winner CV AUC | CatBoost defaults CV AUC | winner holdout AUC | CatBoost defaults holdout AUC "
        "| difference, 95% bootstrap |"
    )
    print("\n" + header + "\n|" + "---|" * 12)
    for item in results:
        counts = f"{item['complete']}/{item['pruned']}/{item['failed']}"
        low, high = item["difference_95"]
        print(
            f"| {item['dataset']} | {item['seed']} | {item['rows']:,} | {item['seconds']:.0f} | {counts} | "
            f"{item['stopped_because']} | {item['winner']} | {item['winner_cv_auc']} | "
            f"{item['catboost_defaults_cv_auc']} | {item['winner_auc']:.4f} | "
            f"{item['catboost_defaults_auc']:.4f} | {low:+.4f} to {high:+.4f} |"
        )
    if len(args.seeds) > 1:
        for name in args.only or list(DATASETS):
            ours = [item["winner_auc"] for item in results if item["dataset"] == name]
            theirs = [item["catboost_defaults_auc"] for item in results if item["dataset"] == name]
            wins = sum(first >= second for first, second in zip(ours, theirs, strict=True))
            print(
                f"{name}: mean holdout AUC {np.mean(ours):.4f} (search) vs {np.mean(theirs):.4f} "
                f"(CatBoost defaults); search >= CatBoost on {wins} of {len(ours)} splits"
            )
    label = "experiments" if args.seeds == [SEED] else "experiments_seeds"
    (OUT / f"{label}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
