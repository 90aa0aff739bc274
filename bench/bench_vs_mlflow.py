"""Benchmark (issue 18): the service against ``mlflow models serve`` on the same model —
the benchmark model, exported by the service itself (``GET models/{id}/export/mlflow/``)
and unzipped — driven by the same client with the same one-row JSON.

    .venv/bin/python bench/bench_vs_mlflow.py                           # 300 sequential, 8 clients x 30 s
    .venv/bin/python bench/bench_vs_mlflow.py --requests 50 --seconds 5  # a quick look
    .venv/bin/python bench/bench_vs_mlflow.py --mlflow-workers 1         # MLflow's default

The service is the throwaway deployment of bench/harness.py with PostgreSQL + Redis:
gunicorn with deploy/gunicorn.conf.py (its defaults here: 2 workers x 16 threads) and one
``manage.py qcluster`` (2 workers). MLflow is ``mlflow models serve -m DIR --env-manager
local --workers W`` from ``.venv-mlflow`` (uvicorn; W = the number of cores unless told).

Each client is http.client, one connection per client thread kept alive, or a new
connection per request (the ", new connections" targets): uvicorn, under MLflow, stalls
~40 ms on every kept-alive request (Nagle's algorithm against the client's delayed ACK),
so each side's ratios use its better mode. Bodies:

- MLflow: ``POST /invocations`` ``{"dataframe_records": [row]}`` -> ``{"predictions": [class]}``
- service: ``POST /api/v1/predictions/`` ``{"model": id, "inputs": row}`` with
  ``Prefer: wait=10`` -> 201 with the result inline (class and probabilities), charged
- service, MLflow's protocol: ``POST /api/v1/models/{id}/invocations`` with MLflow's body
  (``--no-invocations`` leaves it out)

Phase (a): sequential one-row requests, the targets taking turns request by request (so
all see the same machine), median / p95 / p99. Phase (b): C concurrent clients for T
seconds per target, one target after the other: requests/s, errors, and CPU seconds per
request of every process involved, read from /proc: gunicorn's and qcluster's trees,
PostgreSQL (the whole server, and the backends of the benchmark's own database alone)
and Redis for the service; MLflow's process tree for MLflow. Afterwards: every
prediction charged exactly once, ``billing_audit()`` clean. Everything is printed and
written to bench/out/vs_mlflow-<time>.json. Targets and figures: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import io
import json
import os
import signal
import statistics
import threading
import time
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import harness
import measure
import workload

from devservers.mlflow import MLFLOW, MLFLOW_VENV, mlflow_process, run_mlflow_python

# Issue 18's targets.
TARGET_MEDIAN_RATIO = 1.0  # service median <= MLflow's
TARGET_P99_RATIO = 2.0  # service p99 <= 2x MLflow's
TARGET_THROUGHPUT_RATIO = 2.0  # service requests/s >= 2x MLflow's
TARGET_CPU_MS = 12.0  # CPU per prediction, every process of the service

BACKENDS = "postgres (benchmark database backends)"
FRESH = ", new connections"


# --- Targets and the client ------------------------------------------------------------------


@dataclass
class Target:
    name: str
    port: int
    path: str
    body: bytes
    headers: dict[str, str]
    expect_status: int
    fresh: bool = False  # a new connection for every request (as curl), instead of keep-alive

    def answer(self, status: int, payload: dict):
        """The predicted class, or None if the answer is not a success."""
        if status != self.expect_status:
            return None
        if "predictions" in payload:  # MLflow's shape (MLflow, the service's invocations)
            values = payload["predictions"]
            return values[0] if isinstance(values, list) and len(values) == 1 else None
        if payload.get("status") == "succeeded" and payload.get("results"):
            return payload["results"][0].get("prediction")
        return None


class Connection:
    """One keep-alive connection to a target (or, for a ``fresh`` target, a new one per
    request); reconnects after an error."""

    def __init__(self, target: Target):
        self.target = target
        self.connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)

    def send(self) -> tuple[float, object, str]:
        """(seconds, predicted class or None, error text)."""
        target = self.target
        started = time.perf_counter()
        try:
            if target.fresh:
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
            self.connection.request("POST", target.path, body=target.body, headers=target.headers)
            response = self.connection.getresponse()
            raw = response.read()
            payload = json.loads(raw)
        except (OSError, http.client.HTTPException, ValueError) as error:
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
            return time.perf_counter() - started, None, repr(error)
        seconds = time.perf_counter() - started
        value = target.answer(response.status, payload)
        error = "" if value is not None else f"{response.status} {raw[:200]!r}"
        return seconds, value, error

    def close(self) -> None:
        self.connection.close()


def first_of_each_kind(errors: list[str], each: int = 2) -> list[str]:
    """The first ``each`` errors of every kind (HTTP status or exception)."""
    kinds: dict[str, list[str]] = {}
    for error in errors:
        found = kinds.setdefault(error.split(" ", 1)[0][:40], [])
        if len(found) < each:
            found.append(error)
    return [error for found in kinds.values() for error in found]


def summary(seconds: list[float]) -> dict:
    milliseconds = [value * 1000 for value in seconds]
    if not milliseconds:
        return {"count": 0}
    return {
        "count": len(milliseconds),
        "median_ms": statistics.median(milliseconds),
        "p95_ms": measure.percentile(milliseconds, 0.95),
        "p99_ms": measure.percentile(milliseconds, 0.99),
        "mean_ms": statistics.mean(milliseconds),
        "min_ms": min(milliseconds),
        "max_ms": max(milliseconds),
    }


def sequential(targets: list[Target], requests: int, warmup: int) -> dict:
    """Phase (a): the targets take turns, one request each, the first target rotating."""
    connections = [Connection(target) for target in targets]
    for _ in range(warmup):
        for connection in connections:
            connection.send()
    timings: dict[str, list[float]] = {target.name: [] for target in targets}
    errors: dict[str, list[str]] = {target.name: [] for target in targets}
    answers: dict[str, set] = {target.name: set() for target in targets}
    load_before = os.getloadavg()[0]
    for number in range(requests):
        shift = number % len(connections)
        for connection in connections[shift:] + connections[:shift]:
            seconds, value, error = connection.send()
            name = connection.target.name
            if value is None:
                errors[name].append(error)
            else:
                timings[name].append(seconds)
                answers[name].add(str(value))
    for connection in connections:
        connection.close()
    return {
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "targets": {
            name: {
                **summary(timings[name]),
                "errors": len(errors[name]),
                "first_errors": first_of_each_kind(errors[name]),
                "answers": sorted(answers[name]),
                "sent_including_warmup": warmup + requests,
            }
            for name in timings
        },
    }


class Client(threading.Thread):
    def __init__(self, target: Target, start: threading.Event, stop: threading.Event):
        super().__init__(daemon=True)
        self.target, self.start_event, self.stop_event = target, start, stop
        self.timings: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        connection = Connection(self.target)
        self.start_event.wait()
        while not self.stop_event.is_set():
            seconds, value, error = connection.send()
            if value is None:
                self.errors.append(error)
            else:
                self.timings.append(seconds)
        connection.close()


class BackendSampler(threading.Thread):
    """CPU of the PostgreSQL backends serving one database, sampled every 0.25 s (a
    backend that exits between two samples loses at most that much of its CPU): the
    service's own share of a server it may share with other work."""

    def __init__(self, database: str):
        super().__init__(daemon=True)
        self.database = database
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stopping = threading.Event()
        self.started_sampling = False

    def sample(self, connection) -> None:
        pids = [
            row[0]
            for row in connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database]
            ).fetchall()
        ]
        for pid in pids:
            cpu = measure.cpu_seconds([pid])
            # A backend first seen after the start was born during the window.
            self.first.setdefault(pid, cpu if not self.started_sampling else 0.0)
            self.last[pid] = cpu
        self.started_sampling = True

    def run(self) -> None:
        import psycopg

        # Connected to the admin database, so this connection is not counted.
        with psycopg.connect(harness.POSTGRES_ADMIN_URL, autocommit=True) as connection:
            self.sample(connection)
            while not self.stopping.wait(0.25):
                self.sample(connection)
            self.sample(connection)

    def seconds(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def concurrent(
    targets: list[Target],
    seconds: float,
    warmup: float,
    components: dict,
    database: str | None,
    jobs: Callable[[], int] | None = None,
) -> dict:
    """Phase (b) for one endpoint: a client thread per target (each with its own token
    for the service) for ``seconds`` after ``warmup``; CPU of ``components`` meanwhile."""
    start, stop = threading.Event(), threading.Event()
    threads = [Client(target, start, stop) for target in targets]
    for thread in threads:
        thread.start()
    start.set()
    time.sleep(warmup)  # every process has loaded the model, connections are open
    components = {**components, "clients (this script)": time.process_time}
    sampler = BackendSampler(database) if database else None
    cpu_before = {name: read() for name, read in components.items()}
    if sampler:
        sampler.start()
    done_before = sum(len(thread.timings) for thread in threads)
    errors_before_of = {thread: len(thread.errors) for thread in threads}
    jobs_before = jobs() if jobs else 0
    load_before = os.getloadavg()[0]
    measured_from = time.perf_counter()
    time.sleep(seconds)
    done = sum(len(thread.timings) for thread in threads) - done_before
    window_errors = [error for thread in threads for error in thread.errors[errors_before_of[thread] :]]
    elapsed = time.perf_counter() - measured_from
    jobs_made = (jobs() - jobs_before) if jobs else done
    cpu_used = {name: read() - cpu_before[name] for name, read in components.items()}
    if sampler:
        sampler.stopping.set()
        sampler.join(10)
        cpu_used[BACKENDS] = sampler.seconds()
    load_after = os.getloadavg()[0]
    stop.set()
    for thread in threads:
        thread.join(40)
    timings = [value for thread in threads for value in thread.timings]
    all_errors = [error for thread in threads for error in thread.errors]
    return {
        "clients": len(targets),
        "seconds": elapsed,
        "requests": done,
        "requests_per_s": done / elapsed,
        "errors": len(window_errors),
        # 202: the service answered without the result (no free waiting slot, or the wait ran out).
        "answered_202": sum(error.startswith("202 ") for error in window_errors),
        "jobs_created": jobs_made,
        "cpu_ms_per_job_created": {
            name: value * 1000 / max(jobs_made, 1) for name, value in cpu_used.items()
        },
        "errors_including_warmup": len(all_errors),
        "first_errors": first_of_each_kind(all_errors),
        "latency_including_warmup": summary(timings),
        "cpu_seconds": cpu_used,
        "cpu_ms_per_request": {name: value * 1000 / max(done, 1) for name, value in cpu_used.items()},
        "load_before": load_before,
        "load_after": load_after,
        "sent_including_warmup": len(timings) + len(all_errors),
    }


# --- MLflow ----------------------------------------------------------------------------------


def export_model(stack: harness.Stack, model_id: int, token: str) -> tuple[object, int]:
    """The service's own MLflow export of the model, unzipped under the run folder."""
    request = urllib.request.Request(f"{stack.base_url}/api/v1/models/{model_id}/export/mlflow/")
    request.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(request, timeout=120) as response:
        content = response.read()
    directory = stack.directory / "mlflow-model"
    zipfile.ZipFile(io.BytesIO(content)).extractall(directory)
    return directory, len(content)


MLFLOW_FLOOR_SCRIPT = """
import json, statistics, sys, time
import pandas as pd
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
row = json.loads(sys.argv[2])
timings = []
for _ in range(int(sys.argv[3])):
    started = time.perf_counter()
    model.predict(pd.DataFrame([row]))
    timings.append(time.perf_counter() - started)
print(json.dumps(statistics.median(timings[20:]) * 1000))
"""


def mlflow_in_process_ms(directory, row: dict, stack_keys, samples: int = 220) -> float:
    """MLflow's floor: ``pyfunc.load_model(DIR).predict`` of the one-row frame (signature
    check, the service's coercion, the pipeline), in MLflow's Python, no HTTP."""
    output = run_mlflow_python(
        MLFLOW_FLOOR_SCRIPT, str(directory), json.dumps(row), str(samples), cwd=workload.ROOT, drop=stack_keys
    )
    return json.loads(output.strip().splitlines()[-1])


# --- The run ---------------------------------------------------------------------------------


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def breakdown(rows: list[dict]) -> dict:
    """Medians over the service's sequential predictions: created -> claimed by a
    worker, claimed -> succeeded (the rest of a request is around them)."""
    if not rows:
        return {}
    to_start = [(row["started_at"] - row["created_at"]).total_seconds() * 1000 for row in rows]
    in_worker = [(row["finished_at"] - row["started_at"]).total_seconds() * 1000 for row in rows]
    return {
        "predictions": len(rows),
        "created_to_claimed_ms": statistics.median(to_start),
        "claimed_to_succeeded_ms": statistics.median(in_worker),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="sequential requests per endpoint")
    parser.add_argument("--warmup", type=int, default=30, help="sequential warm-up requests per endpoint")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30, help="concurrent phase, per endpoint")
    parser.add_argument("--concurrent-warmup", type=float, default=5)
    parser.add_argument("--mlflow-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--web-workers", type=int, default=2, help="deploy/gunicorn.conf.py's default on 2 cores"
    )
    parser.add_argument("--web-threads", type=int, default=16, help="deploy/gunicorn.conf.py's default")
    parser.add_argument("--queue-workers", type=int, default=2, help="a qcluster's WORKERS in deploy/")
    parser.add_argument(
        "--no-invocations", action="store_true", help="leave out the service's MLflow-protocol endpoint"
    )
    arguments = parser.parse_args()
    if not MLFLOW.exists():
        raise SystemExit(f"MLflow is not installed in {MLFLOW_VENV}")

    # SIGTERM/SIGHUP unwind like Ctrl-C, so every process this script started is stopped.
    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    started_at = datetime.datetime.now(datetime.UTC)
    results: dict = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "arguments": vars(arguments),
        "cpus": os.cpu_count(),
        "load_at_start": os.getloadavg(),
    }
    from bench_latency import in_process_one_row_ms

    results["service_in_process_floor_ms"] = in_process_one_row_ms()
    results["sequential"], results["concurrent"] = {}, {}
    with harness.Stack(
        name="vs-mlflow",
        postgres=True,
        redis=True,
        web_workers=arguments.web_workers,
        web_threads=arguments.web_threads,
        queue_workers=arguments.queue_workers,
    ) as stack:
        run(stack, arguments, results)
    results["load_at_end"] = os.getloadavg()
    report(results)
    workload.OUT.mkdir(parents=True, exist_ok=True)
    path = workload.OUT / f"vs_mlflow-{started_at.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"written to {path.relative_to(workload.ROOT)}")


def run(stack: harness.Stack, arguments, results: dict) -> None:
    """Both phases against the started stack and MLflow; the books afterwards."""
    from predictions.models import Prediction

    clients = arguments.clients
    # users[0]: sequential predictions/, users[1]: sequential invocations, then one per client.
    users = harness.make_users(clients + 2)
    model = harness.register_model(owner=users[0][0])
    worker = stack.start_worker()
    web = stack.start_web()
    row = workload.one_row()
    directory, zip_size = export_model(stack, model.pk, users[0][1])
    results["mlflow_export_zip_bytes"] = zip_size
    results["mlflow_in_process_floor_ms"] = mlflow_in_process_ms(directory, row, stack.env.keys())

    mlflow_body = json.dumps({"dataframe_records": [row]}).encode()
    service_body = json.dumps({"model": model.pk, "inputs": row}).encode()
    json_type = {"Content-Type": "application/json"}

    with mlflow_process(
        [
            "models",
            "serve",
            "-m",
            str(directory),
            "--env-manager",
            "local",
            "--workers",
            str(arguments.mlflow_workers),
        ],
        ready_path="/ping",
        log_path=stack.directory / "mlflow.log",
        cwd=workload.ROOT,
        drop=stack.env.keys(),
    ) as mlflow:
        mlflow_port = mlflow.port

        def endpoint(name: str, token: str = "") -> Target:
            fresh = name.endswith(FRESH)
            if name.startswith("mlflow"):
                return Target(name, mlflow_port, "/invocations", mlflow_body, json_type, 200, fresh)
            authorization = {**json_type, "Authorization": f"Token {token}"}
            if name.startswith("service invocations"):
                path = f"/api/v1/models/{model.pk}/invocations"
                return Target(name, stack.port, path, mlflow_body, authorization, 200, fresh)
            headers = {**authorization, "Prefer": "wait=10"}
            return Target(name, stack.port, "/api/v1/predictions/", service_body, headers, 201, fresh)

        # Both sides with keep-alive and with a new connection per request: uvicorn (MLflow)
        # stalls ~40 ms on a kept-alive connection (Nagle's algorithm against delayed
        # ACKs), so each side is compared at its better mode.
        names = ["mlflow", "mlflow" + FRESH, "service", "service" + FRESH]
        if not arguments.no_invocations:
            names.append("service invocations")

        # (a) Sequential, the endpoints taking turns.
        sequential_targets = [
            endpoint(name, users[1][1] if name == "service invocations" else users[0][1]) for name in names
        ]
        results["sequential"] = sequential(sequential_targets, arguments.requests, arguments.warmup)

        # (b) Concurrent, one endpoint after the other; each client its own user.
        service_components = {
            "gunicorn": lambda: measure.tree_cpu_seconds(web.pid),
            "qcluster": lambda: measure.tree_cpu_seconds(worker.pid),
        }
        postmaster = measure.parent_pid(measure.postgres_backends(stack.database_name)[0])
        redis_servers = measure.pids_named("redis-server")
        service_components["postgres (whole server)"] = lambda: measure.tree_cpu_seconds(postmaster)
        service_components["redis"] = lambda: measure.cpu_seconds(redis_servers)
        mlflow_components = {"mlflow": lambda: measure.tree_cpu_seconds(mlflow.pid)}
        for name in names:
            service = not name.startswith("mlflow")
            targets = [endpoint(name, token) for _, token in users[2 : 2 + clients]]
            results["concurrent"][name] = concurrent(
                targets,
                arguments.seconds,
                arguments.concurrent_warmup,
                service_components if service else mlflow_components,
                stack.database_name if service else None,
                jobs=Prediction.objects.count if service else None,
            )
    results["mlflow_log_tail"] = stack.log("mlflow.log")[-1500:]

    # The books, after every service request of both phases.
    from django.db.models import Count, Q

    from billing.audit import billing_audit
    from billing.models import LedgerEntry

    # The requests stopped mid-flight (and any answered 202) finish first.
    deadline = time.monotonic() + 60
    while (
        Prediction.objects.filter(status__in=["queued", "running"]).exists() and time.monotonic() < deadline
    ):
        time.sleep(0.5)
    charge = LedgerEntry.Kind.PREDICTION_CHARGE
    sent = sum(
        value["sent_including_warmup"]
        for name, value in results["sequential"]["targets"].items()
        if not name.startswith("mlflow")
    ) + sum(
        value["sent_including_warmup"]
        for name, value in results["concurrent"].items()
        if not name.startswith("mlflow")
    )
    results["books"] = {
        "service_requests_sent": sent,
        "predictions": Prediction.objects.count(),
        "succeeded": Prediction.objects.filter(status="succeeded").count(),
        "charges": LedgerEntry.objects.filter(kind=charge).count(),
        "predictions_not_charged_exactly_once": Prediction.objects.annotate(
            charges=Count("ledger_entries", filter=Q(ledger_entries__kind=charge))
        )
        .exclude(charges=1)
        .count(),
        "audit": billing_audit(),
    }
    measured = list(
        Prediction.objects.filter(owner=users[0][0])
        .order_by("pk")
        .values("created_at", "started_at", "finished_at")
    )[2 * arguments.warmup :]  # both connection modes of predictions/ warmed up
    results["service_sequential_breakdown"] = breakdown(measured)


def report(results: dict) -> None:
    arguments = results["arguments"]
    sequential_ = results["sequential"]["targets"]
    concurrent_ = results["concurrent"]
    print(
        f"service (PostgreSQL + Redis, gunicorn {arguments['web_workers']}x{arguments['web_threads']} threads, "
        f"qcluster {arguments['queue_workers']} workers) vs mlflow models serve "
        f"(--workers {arguments['mlflow_workers']}), {results['cpus']} CPUs, "
        f"load average {results['load_at_start'][0]:.2f} at start, {results['load_at_end'][0]:.2f} at end"
    )
    print(
        f"\n(a) one row, {arguments['requests']} sequential requests per endpoint, taking turns "
        f"(load {results['sequential']['load_before']:.2f} -> {results['sequential']['load_after']:.2f})"
    )
    for name, value in sequential_.items():
        if value["count"]:
            print(
                f"  {name:26} median {value['median_ms']:6.1f} ms  p95 {value['p95_ms']:6.1f}  "
                f"p99 {value['p99_ms']:6.1f}  mean {value['mean_ms']:6.1f}  errors {value['errors']}  "
                f"answers {value['answers']}"
            )
        else:
            print(f"  {name:26} no successful answer; errors {value['first_errors']}")
    # Each side at its better connection mode (the lower median).
    answered = {name: value for name, value in sequential_.items() if value["count"]}
    mlflow_best = min(
        (name for name in answered if name.startswith("mlflow")), key=lambda name: answered[name]["median_ms"]
    )
    mlflow = answered[mlflow_best]
    ratios = {"mlflow_sequential_best": mlflow_best}
    print(f"  MLflow's better mode: {mlflow_best}")
    for name in answered:
        if name.startswith("mlflow"):
            continue
        median_ratio = ratio(answered[name]["median_ms"], mlflow["median_ms"])
        p99_ratio = ratio(answered[name]["p99_ms"], mlflow["p99_ms"])
        ratios[name] = {"median": median_ratio, "p99": p99_ratio}
        print(
            f"  {name} / {mlflow_best}: median {median_ratio:.2f}x (target <= {TARGET_MEDIAN_RATIO:g}: "
            f"{verdict(median_ratio <= TARGET_MEDIAN_RATIO)}), p99 {p99_ratio:.2f}x "
            f"(target <= {TARGET_P99_RATIO:g}: {verdict(p99_ratio <= TARGET_P99_RATIO)})"
        )
    print(
        f"  in process, no HTTP: service validate + predict {results['service_in_process_floor_ms']:.2f} ms, "
        f"mlflow pyfunc predict {results['mlflow_in_process_floor_ms']:.2f} ms"
    )
    if results.get("service_sequential_breakdown"):
        parts = results["service_sequential_breakdown"]
        print(
            f"  service medians: created -> claimed by a worker {parts['created_to_claimed_ms']:.1f} ms, "
            f"claimed -> succeeded {parts['claimed_to_succeeded_ms']:.1f} ms"
        )

    print(f"\n(b) {arguments['clients']} concurrent clients, {arguments['seconds']:g} s per endpoint")
    mlflow_concurrent = [name for name in concurrent_ if name.startswith("mlflow")]
    mlflow_fastest = max(
        mlflow_concurrent, key=lambda name: concurrent_[name]["requests_per_s"], default=None
    )
    ratios["mlflow_concurrent_best"] = mlflow_fastest
    for name, value in concurrent_.items():
        cpu = dict(value["cpu_ms_per_request"])
        client_cpu = cpu.pop("clients (this script)")
        print(
            f"  {name:26} {value['requests_per_s']:6.1f} requests/s  errors {value['errors']}  "
            f"latency median {value['latency_including_warmup'].get('median_ms', float('nan')):.0f} ms "
            f"p99 {value['latency_including_warmup'].get('p99_ms', float('nan')):.0f} ms  "
            f"(load {value['load_before']:.2f} -> {value['load_after']:.2f})"
        )
        if name.startswith("mlflow"):
            print(f"  {'':26} CPU per request: mlflow {cpu['mlflow']:.1f} ms; clients {client_cpu:.1f} ms")
            continue
        whole = sum(cpu[key] for key in ("gunicorn", "qcluster", "postgres (whole server)", "redis"))
        own = sum(cpu[key] for key in ("gunicorn", "qcluster", BACKENDS, "redis"))
        print(
            f"  {'':26} CPU per prediction: gunicorn {cpu['gunicorn']:.1f} ms, qcluster {cpu['qcluster']:.1f} ms, "
            f"PostgreSQL {cpu['postgres (whole server)']:.1f} ms (whole server; this database's backends "
            f"{cpu[BACKENDS]:.1f} ms), Redis {cpu['redis']:.1f} ms"
        )
        print(
            f"  {'':26} total {whole:.1f} ms (backends only: {own:.1f} ms), target <= {TARGET_CPU_MS:g} ms: "
            f"{verdict(whole <= TARGET_CPU_MS)}; clients {client_cpu:.1f} ms"
        )
        per_job = value["cpu_ms_per_job_created"]
        print(
            f"  {'':26} {value['jobs_created']} predictions made in the window, {value['answered_202']} of the "
            f"errors a 202 (no result in the answer); CPU per prediction made: "
            f"{sum(per_job[key] for key in ('gunicorn', 'qcluster', 'postgres (whole server)', 'redis')):.1f} ms"
        )
        if value["first_errors"]:
            print(f"  {'':26} first errors of each kind: {[error[:120] for error in value['first_errors']]}")
        if mlflow_fastest:
            throughput_ratio = ratio(value["requests_per_s"], concurrent_[mlflow_fastest]["requests_per_s"])
            ratios.setdefault(name, {})["throughput"] = throughput_ratio
            print(
                f"  {'':26} / {mlflow_fastest}: {throughput_ratio:.2f}x requests/s "
                f"(target >= {TARGET_THROUGHPUT_RATIO:g}: "
                f"{verdict(throughput_ratio >= TARGET_THROUGHPUT_RATIO)}); errors "
                f"{verdict(value['errors'] == 0)}"
            )
    for name in mlflow_concurrent:
        if concurrent_[name]["errors"]:
            print(f"  {name} first errors: {concurrent_[name]['first_errors'][:3]}")
    results["ratios"] = ratios

    books = results["books"]
    once = (
        books["predictions"] == books["charges"] == books["succeeded"]
        and not books["predictions_not_charged_exactly_once"]
    )
    print(
        f"\nbooks: {books['service_requests_sent']} service requests sent, {books['predictions']} predictions, "
        f"{books['succeeded']} succeeded, {books['charges']} charges, "
        f"{books['predictions_not_charged_exactly_once']} not charged exactly once -> "
        f"{'every prediction charged once' if once else 'NOT every prediction charged once'}; "
        f"audit: {books['audit'] or 'clean'}"
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as stopped:
        raise SystemExit(f"stopped ({stopped}); every process this script started was stopped") from None
