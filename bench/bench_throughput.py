"""Benchmark: concurrent clients sending one-row predictions (``Prefer: wait=10``, so a
prediction counts when its result is back) for a fixed time, against gunicorn +
qcluster + PostgreSQL + Redis on this machine.

    .venv/bin/python bench/bench_throughput.py                 # 8 clients, 30 s
    .venv/bin/python bench/bench_throughput.py --clients 8 --seconds 60

Target (issue 4): at least 60 predictions/s with no error. Each client is its own
user (one connection, keep-alive), so no client is throttled by another's requests.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import threading
import time

import harness
import measure
import workload


class Client(threading.Thread):
    def __init__(self, port: int, token: str, body: bytes, start: threading.Event, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.token, self.body = port, token, body
        self.start_event, self.stop_event = start, stop
        self.timings: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {
            "Authorization": f"Token {self.token}",
            "Content-Type": "application/json",
            "Prefer": "wait=10",
        }
        self.start_event.wait()
        while not self.stop_event.is_set():
            started = time.perf_counter()
            try:
                connection.request("POST", "/api/v1/predictions/", body=self.body, headers=headers)
                response = connection.getresponse()
                payload = json.loads(response.read())
            except (OSError, http.client.HTTPException, ValueError) as error:
                self.errors.append(repr(error))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            if response.status == 201 and payload.get("status") == "succeeded":
                self.timings.append(time.perf_counter() - started)
            else:
                self.errors.append(f"{response.status} {payload.get('status') or payload.get('detail')}")
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=16)
    parser.add_argument("--queue-workers", type=int, default=2)
    parser.add_argument("--sqlite", action="store_true", help="SQLite + ORM broker instead (for comparison)")
    arguments = parser.parse_args()

    with harness.Stack(
        name="throughput",
        postgres=not arguments.sqlite,
        redis=not arguments.sqlite,
        web_workers=arguments.web_workers,
        web_threads=arguments.web_threads,
        queue_workers=arguments.queue_workers,
    ) as stack:
        users = harness.make_users(arguments.clients)
        model = harness.register_model(owner=users[0][0])
        worker = stack.start_worker()
        web = stack.start_web()
        body = json.dumps({"model": model.pk, "inputs": workload.one_row()}).encode()

        start, stop = threading.Event(), threading.Event()
        clients = [Client(stack.port, token, body, start, stop) for _, token in users]
        for client in clients:
            client.start()
        start.set()
        time.sleep(arguments.warmup)  # every worker loads the model, connections open
        components = {
            "gunicorn": lambda: measure.tree_cpu_seconds(web.pid),
            "qcluster": lambda: measure.tree_cpu_seconds(worker.pid),
        }
        if not arguments.sqlite:
            # The whole server (backends come and go; an exited one is counted in its
            # parent's total): nothing else uses it during the run.
            postmaster = measure.parent_pid(measure.postgres_backends(stack.database_name)[0])
            servers = measure.pids_named("redis-server")
            components["postgres"] = lambda: measure.tree_cpu_seconds(postmaster)
            components["redis"] = lambda: measure.cpu_seconds(servers)
        clients_cpu = time.process_time  # this process: the 8 client threads
        components["clients (this script)"] = clients_cpu
        cpu_before = {name: measure() for name, measure in components.items()}
        counted_before = sum(len(client.timings) for client in clients)
        errors_before = sum(len(client.errors) for client in clients)
        measured_from = time.perf_counter()
        load_before = os.getloadavg()[0]
        time.sleep(arguments.seconds)
        counted_after = sum(len(client.timings) for client in clients)
        errors_after = sum(len(client.errors) for client in clients)
        elapsed = time.perf_counter() - measured_from
        cpu_used = {name: measure() - cpu_before[name] for name, measure in components.items()}
        load_after = os.getloadavg()[0]
        stop.set()
        for client in clients:
            client.join(30)

        from billing.audit import billing_audit
        from billing.models import LedgerEntry
        from predictions.models import Prediction

        charges = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE).count()
        succeeded = Prediction.objects.filter(status="succeeded").count()
        total = Prediction.objects.count()
        audit = billing_audit()

    done = counted_after - counted_before
    errors = errors_after - errors_before
    timings = [value * 1000 for client in clients for value in client.timings]
    print(
        f"{arguments.clients} clients, one-row predictions with Prefer: wait=10, "
        f"{'SQLite + ORM broker' if arguments.sqlite else 'PostgreSQL + Redis'}, "
        f"gunicorn {arguments.web_workers}x{arguments.web_threads} threads, qcluster {arguments.queue_workers} workers"
    )
    print(f"  {done / elapsed:6.1f} predictions/s over {elapsed:.0f} s   errors {errors}")
    print(
        f"  latency under load: median {statistics.median(timings):.0f} ms, p95 {measure.percentile(timings, 0.95):.0f} ms"
    )
    per_prediction = {name: seconds * 1000 / max(done, 1) for name, seconds in cpu_used.items()}
    client_cpu = per_prediction.pop("clients (this script)")
    total_cpu = sum(per_prediction.values())
    print(
        "  CPU per prediction: "
        + ", ".join(f"{name} {value:.1f} ms" for name, value in per_prediction.items())
        + f"; service total {total_cpu:.1f} ms -> at most {os.cpu_count() * 1000 / max(total_cpu, 0.001):.0f}/s "
        f"on {os.cpu_count()} idle cores; the clients used {client_cpu:.1f} ms more "
        f"(load average {load_before:.1f} -> {load_after:.1f} during the run)"
    )
    all_errors = [error for client in clients for error in client.errors]
    if all_errors:
        print(f"  first errors: {all_errors[:5]}")
    print(
        f"  {succeeded}/{total} predictions succeeded, {charges} charges in the ledger, audit: {audit or 'clean'}"
    )


if __name__ == "__main__":
    main()
