"""Benchmark: one-row predictions with ``Prefer: wait=10`` against a running service —
the full round trip (request, validation, charge and ledger entry, broker, worker,
answer with the result) — median and p95 over sequential requests.

    .venv/bin/python bench/bench_latency.py                # SQLite + the ORM broker
    .venv/bin/python bench/bench_latency.py --redis        # PostgreSQL + Redis
    .venv/bin/python bench/bench_latency.py --redis --requests 500

Targets (issue 4): under 300 ms at the median with the ORM broker, under 50 ms with
Redis. The deployment is throwaway (see bench/harness.py): gunicorn with
deploy/gunicorn.conf.py and a real qcluster, on loopback.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time

import harness
import measure
import workload


def in_process_one_row_ms(samples: int = 200) -> float:
    """The floor: validate + predict one row in this process (no HTTP, no queue), as
    the request (validate_records) and the worker (predict_frame) do it."""
    from mlmodels.ml.artifacts import load_artifact
    from mlmodels.ml.inputs import validate_records
    from mlmodels.ml.scoring import predict_frame, records_from_predictions
    from predictions.coerced import coerced_from_json, coerced_to_json

    artifact, meta = workload.trained_model_files()
    loaded = load_artifact(artifact, sha256=meta["sha256"])
    row = workload.one_row()
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        schema = loaded.feature_schema
        checked = validate_records(row, schema, max_rows=1)
        frame = coerced_from_json(coerced_to_json(checked.coerced, schema), schema)
        records_from_predictions(predict_frame(loaded.pipeline, frame, schema), schema)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def predict_once(connection: http.client.HTTPConnection, token: str, body: bytes) -> tuple[float, int, dict]:
    started = time.perf_counter()
    connection.request(
        "POST",
        "/api/v1/predictions/",
        body=body,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json", "Prefer": "wait=10"},
    )
    response = connection.getresponse()
    payload = json.loads(response.read())
    return time.perf_counter() - started, response.status, payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--redis", action="store_true", help="PostgreSQL + Redis instead of SQLite + ORM broker"
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=16)
    parser.add_argument("--queue-workers", type=int, default=2)
    arguments = parser.parse_args()

    name = "latency-redis" if arguments.redis else "latency-orm"
    setup = "PostgreSQL + Redis broker" if arguments.redis else "SQLite + ORM broker"
    floor = in_process_one_row_ms()
    with harness.Stack(
        name=name,
        postgres=arguments.redis,
        redis=arguments.redis,
        web_workers=arguments.web_workers,
        web_threads=arguments.web_threads,
        queue_workers=arguments.queue_workers,
    ) as stack:
        (user, token), *_ = harness.make_users(1)
        model = harness.register_model(owner=user)
        stack.start_worker()
        stack.start_web()
        body = json.dumps({"model": model.pk, "inputs": workload.one_row()}).encode()
        connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)

        for _ in range(arguments.warmup):  # every worker process loads the model once
            predict_once(connection, token, body)
        timings, errors, examples = [], 0, []
        for _ in range(arguments.requests):
            seconds, status, payload = predict_once(connection, token, body)
            if status == 201 and payload.get("status") == "succeeded" and payload.get("results"):
                timings.append(seconds)
            else:
                errors += 1
                examples.append(
                    f"{status} {payload.get('status')} {payload.get('detail') or payload.get('error')}"
                )
        connection.close()

        from billing.audit import billing_audit
        from billing.models import LedgerEntry
        from predictions.models import Prediction

        total = arguments.warmup + arguments.requests
        measured = list(Prediction.objects.order_by("pk").values("created_at", "started_at", "finished_at"))[
            arguments.warmup :
        ]
        charges = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE).count()
        succeeded = Prediction.objects.filter(status="succeeded").count()
        audit = billing_audit()

    milliseconds = [value * 1000 for value in timings]
    print(f"one-row prediction, Prefer: wait=10, {setup}, {len(timings)} sequential requests")
    print(
        f"  median {statistics.median(milliseconds):6.1f} ms   p95 {measure.percentile(milliseconds, 0.95):6.1f} ms"
        f"   mean {statistics.mean(milliseconds):6.1f} ms   min {min(milliseconds):6.1f} ms"
        f"   max {max(milliseconds):6.1f} ms   errors {errors}"
    )
    if examples:
        print(f"  first errors: {examples[:3]}")
    print(f"  in-process validate + predict of the same row: {floor:.1f} ms (the floor)")
    to_start = [(row["started_at"] - row["created_at"]).total_seconds() * 1000 for row in measured]
    in_worker = [(row["finished_at"] - row["started_at"]).total_seconds() * 1000 for row in measured]
    print(
        f"  medians: created -> claimed by a worker {statistics.median(to_start):.1f} ms, "
        f"claimed -> succeeded {statistics.median(in_worker):.1f} ms, the rest is the request before "
        "the insert and after the job (validation, answer, polling)"
    )
    print(
        f"  {succeeded}/{total} predictions succeeded, {charges} charges in the ledger, audit: {audit or 'clean'}"
    )


if __name__ == "__main__":
    main()
