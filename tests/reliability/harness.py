"""What the reliability tests share: the service in production mode (gunicorn with
DEBUG off, qcluster processes) on the test database, a small HTTP client, restarts of
the real PostgreSQL and Redis, and the figures file that docs/RELIABILITY.md quotes.

Everything here talks to 127.0.0.1 only, and every wait is bounded."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BASE_DIR, Worker, database_url_for_subprocess, wait_for

FIGURES_PATH = BASE_DIR / "var" / "reliability" / "figures.json"
# Every request's client-side limit: a request that takes longer counts as a hang.
REQUEST_TIMEOUT = 30.0
# What the TLS proxy in front of the service adds (see README, "Running in production").
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}

# --- When the suite can run -------------------------------------------------------------


def why_not_runnable() -> str | None:
    """None when PostgreSQL and Redis are configured, else the reason to skip."""
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        return "reliability suite needs PostgreSQL (DATABASE_URL=postgres://...) and Redis (REDIS_URL)"
    if not os.environ.get("REDIS_URL"):
        return "reliability suite needs Redis (REDIS_URL=redis://...) besides PostgreSQL"
    return None


# --- HTTP ---------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    error: str = ""  # a transport failure (refused, reset, timed out): status is 0

    @property
    def data(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def is_json(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/json") and self.data is not None

    @property
    def detail(self) -> str:
        data = self.data
        return str(data.get("detail", "")) if isinstance(data, dict) else ""

    def describe(self) -> str:
        return f"{self.status} {self.error or self.body[:400]!r}"


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, content, content_type) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Http:
    """A plain HTTP/1.1 client for one server: a new connection per request, so it is
    safe from many threads and a dead connection never poisons the next request."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        host_port = base_url.removeprefix("http://")
        self.host, port = host_port.split(":")
        self.port = int(port)

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = REQUEST_TIMEOUT,
        proxy: bool = True,
    ) -> Answer:
        sent = dict(PROXY_HEADERS) if proxy else {}
        sent["Accept"] = "application/json"
        if token:
            sent["Authorization"] = f"Token {token}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            content_type = content_type or "application/json"
        if content_type:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        started = time.monotonic()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.putrequest(method, path, skip_host="Host" in sent, skip_accept_encoding=True)
            for name, value in sent.items():
                connection.putheader(name, value)
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders()
            if body:
                try:
                    connection.send(body)
                except OSError:
                    # The server answered (a 413) and closed before taking the whole
                    # body: its answer is still there to read.
                    pass
            response = connection.getresponse()
            content = response.read()
            answer_headers = {name.lower(): value for name, value in response.getheaders()}
            return Answer(response.status, answer_headers, content, time.monotonic() - started)
        except (OSError, http.client.HTTPException) as error:
            return Answer(0, {}, b"", time.monotonic() - started, error=f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    def get(self, path: str, **kwargs) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> Answer:
        return self.request("POST", path, **kwargs)


# --- The service in production mode -----------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(*, secret_key: str, queue_name: str, media_root: Path) -> dict[str, str]:
    """The environment of a production deployment (README, "Running in production"),
    on the test database. The rate limits are raised because every client here is
    127.0.0.1; the login and throttle code paths still run."""
    return {
        "DEBUG": "0",
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url_for_subprocess(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "MEDIA_ROOT": str(media_root),
        # A queue of our own: other test runs may share this Redis.
        "QUEUE_NAME": queue_name,
        "THROTTLE_ANON": "100000/min",
        "THROTTLE_USER": "100000/min",
        "THROTTLE_REGISTER": "100000/min",
        "LOGIN_FAILURE_LIMIT": "1000",
        "LOG_FORMAT": "plain",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }


class ProductionServer:
    """gunicorn serving mlservice with DEBUG off on a free loopback port, started as
    README's "Running in production" says: deploy/gunicorn.conf.py, its knobs set by
    environment variables (fewer processes: this machine has 2 cores)."""

    def __init__(self, *, env: dict[str, str], log_path: Path, workers: int = 2, threads: int = 4):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop())
        gunicorn_env = {
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_THREADS": str(threads),
            "GUNICORN_TIMEOUT": "60",
            # Its own folder: the config empties it at start, and other runs have theirs.
            "PROMETHEUS_MULTIPROC_DIR": str(log_path.parent / f"prometheus-{os.getpid()}"),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "mlservice.wsgi:application"],
            cwd=BASE_DIR,
            env={**os.environ, **env, **gunicorn_env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.http = Http(self.url)

        def up():
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            return self.http.get("/api/v1/me/", timeout=5).status == 401

        wait_for(up, timeout=90, interval=0.3, what="gunicorn to answer")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()


def stop_clusters(workers: list[Worker]) -> None:
    """SIGTERM to each qcluster main process only, all at once (each takes seconds to
    wind down): it stops its children itself, whereas a signal to the whole group
    leaves them in the inherited handler until SIGKILL."""
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.process.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
        worker._log.close()


# --- Restarting the real services ---------------------------------------------------------

PG_VERSION = (
    (sorted(os.listdir("/etc/postgresql")) or ["15"])[0] if os.path.isdir("/etc/postgresql") else "15"
)
_service_lock = threading.Lock()


def reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


def _run(command: list[str], timeout: float = 60) -> None:
    subprocess.run(command, check=False, timeout=timeout, capture_output=True)


def postgres_stop() -> None:
    # fast: ends every session at once (a smart stop would wait for idle clients).
    _run(["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main", "stop", "-m", "fast"])


def postgres_start() -> None:
    """Start PostgreSQL and wait until it accepts connections (bounded)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _run(["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main", "start"])
        if _postgres_answers():
            return
        time.sleep(0.5)
    raise RuntimeError("PostgreSQL did not come back within 60 s")


def _postgres_answers() -> bool:
    import psycopg

    try:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def redis_stop() -> None:
    _run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], timeout=20)
    wait_for(lambda: not reachable(6379), timeout=20, what="Redis to stop")


def redis_start() -> None:
    """Start Redis as CI does (no persistence) and wait until it answers PING."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not reachable(6379):
            _run(
                [
                    "redis-server",
                    "--daemonize",
                    "yes",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    "6379",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ]  # fmt: skip
            )
        try:
            if (
                subprocess.run(
                    ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"], capture_output=True, timeout=5
                ).stdout.strip()
                == b"PONG"
            ):
                return
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.3)
    raise RuntimeError("Redis did not come back within 30 s")


@dataclass
class Outage:
    """When a service went down and came back, on the time.monotonic() clock."""

    service: str
    stopping_at: float = 0.0  # the stop command was sent
    down_at: float = 0.0  # the service no longer answers
    starting_at: float = 0.0  # the start command was sent
    up_at: float = 0.0  # the service answers again

    @property
    def seconds(self) -> float:
        return round(self.up_at - self.stopping_at, 2)


def outage(service: str, *, down_for: float) -> Outage:
    """Stop ``service`` ("postgres" or "redis"), keep it down ``down_for`` seconds and
    start it again. It is started again whatever happens (other test runs share it)."""
    stop, start = {"postgres": (postgres_stop, postgres_start), "redis": (redis_stop, redis_start)}[service]
    port = {"postgres": 5432, "redis": 6379}[service]
    record = Outage(service)
    with _service_lock:
        try:
            record.stopping_at = time.monotonic()
            stop()
            wait_for(lambda: not reachable(port), timeout=30, what=f"{service} to stop")
            record.down_at = time.monotonic()
            time.sleep(down_for)
        finally:
            record.starting_at = time.monotonic()
            start()
            record.up_at = time.monotonic()
    return record


# --- Load -----------------------------------------------------------------------------------


@dataclass
class Call:
    operation: str
    key: str  # the Idempotency-Key of a POST, "" for a read
    started: float
    answer: Answer

    @property
    def ended(self) -> float:
        return self.started + self.answer.seconds


class Load:
    """Clients that keep submitting predictions, topping up and reading balances until
    stopped, each POST with its own Idempotency-Key (as a careful client sends), at
    most ``rate`` requests per second per client and ``limit`` requests in all."""

    def __init__(
        self, http: Http, *, token: str, model_id: int, clients: int = 4, rate: float = 15, limit: int = 5000
    ):
        self.http = http
        self.token = token
        self.model_id = model_id
        self.clients = clients
        self.pause = 1 / rate
        self.limit = limit
        self.calls: list[Call] = []
        self.bodies: dict[str, tuple[str, dict]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(clients)]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT + 5)

    def post(self, operation: str, key: str) -> Answer:
        path, body = self.bodies[key]
        answer = self.http.post(path, token=self.token, json_body=body, headers={"Idempotency-Key": key})
        return answer

    def _run(self, client: int) -> None:
        for number in itertools.count():
            if self._stop.is_set() or len(self.calls) >= self.limit:
                return
            operation = ("predict", "balance", "predict", "topup")[number % 4]
            started = time.monotonic()
            key = ""
            if operation == "balance":
                answer = self.http.get("/api/v1/billing/balance/", token=self.token)
            else:
                key = f"load-{client}-{number}-{uuid.uuid4().hex[:8]}"
                if operation == "predict":
                    row = {"age": 20 + number % 60, "income": 50.5, "color": "green", "member": False}
                    self.bodies[key] = ("/api/v1/predictions/", {"model": self.model_id, "inputs": [row]})
                else:
                    self.bodies[key] = ("/api/v1/billing/topup/", {"amount": "1.00"})
                answer = self.post(operation, key)
            with self._lock:
                self.calls.append(Call(operation, key, started, answer))
            time.sleep(self.pause)

    def retry_failed(self, *, attempts: int = 3) -> list[Call]:
        """Send again, with the same Idempotency-Key and body, every POST whose answer
        was a 5xx or no answer; returns the final call for each of them."""
        failed = [
            call for call in self.calls if call.key and (call.answer.status == 0 or call.answer.status >= 500)
        ]

        def retry(call: Call) -> Call:
            for _ in range(attempts):
                started = time.monotonic()
                final = Call(call.operation, call.key, started, self.post(call.operation, call.key))
                if 0 < final.answer.status < 500:
                    break
                time.sleep(1)
            return final

        with ThreadPoolExecutor(max_workers=self.clients) as pool:
            return list(pool.map(retry, failed))


# --- Jobs ---


def finished_count(ids: list[int]) -> int:
    from predictions.models import Prediction

    return Prediction.objects.filter(pk__in=ids, status__in=Prediction.FINISHED).count()


def settle(ids: list[int], *, timeout: float = 120.0, quiet_seconds: float = 3.0) -> dict[str, int]:
    """Wait until every prediction in ``ids`` has finished. Whenever nothing has moved
    for ``quiet_seconds``, run the sweep with its clock advanced past its thresholds
    (instead of waiting the real 31 minutes): stuck ``running`` jobs are failed and
    refunded, ``queued`` jobs whose task was lost are enqueued again. Returns what the
    sweep did, summed."""
    from django.conf import settings
    from django.db import connections
    from django.utils import timezone

    from predictions.models import Prediction
    from predictions.services import MAX_ENQUEUE_ATTEMPTS, RUNNING_GRACE_SECONDS, prediction_sweep_run

    totals = {"sweeps": 0, "failed_running": 0, "requeued": 0, "failed_queued": 0}
    deadline = time.monotonic() + timeout
    last_state = None
    last_change = time.monotonic()
    while True:
        connections.close_all()  # a restarted PostgreSQL left this process a dead connection
        state = sorted(
            Prediction.objects.filter(pk__in=ids).values_list("pk", "status", "progress", "attempts")
        )
        if all(status in Prediction.FINISHED for _, status, _, _ in state) and len(state) == len(ids):
            return totals
        if state != last_state:
            last_state, last_change = state, time.monotonic()
        elif time.monotonic() - last_change > quiet_seconds:
            ahead = timedelta(
                seconds=max(
                    settings.TASK_TIMEOUT + RUNNING_GRACE_SECONDS,
                    settings.QUEUED_STALE_SECONDS * MAX_ENQUEUE_ATTEMPTS,
                )
                + 1
            )
            report = prediction_sweep_run(now=timezone.now() + ahead)
            totals["sweeps"] += 1
            totals["failed_running"] += len(report.failed_running)
            totals["requeued"] += len(report.requeued)
            totals["failed_queued"] += len(report.failed_queued)
            last_change = time.monotonic()
        if time.monotonic() > deadline:
            stuck = [(pk, status) for pk, status, _, _ in state if status not in Prediction.FINISHED]
            pytest.fail(f"jobs not finished after {timeout}s: {stuck[:20]} (sweep: {totals})")
        time.sleep(0.3)


def money_check(ids: list[int]) -> dict[str, int]:
    """Every prediction in ``ids`` ended succeeded, or failed/canceled and refunded;
    each was charged exactly once and refunded at most once, and only if it did not
    succeed; the books balance. Returns the outcome counts."""
    from billing.models import LedgerEntry
    from billing.services import billing_audit
    from predictions.models import Prediction

    Kind = LedgerEntry.Kind
    entries: dict[int, list[str]] = {}
    for prediction_id, kind in LedgerEntry.objects.filter(prediction_id__in=ids).values_list(
        "prediction_id", "kind"
    ):
        entries.setdefault(prediction_id, []).append(kind)
    outcomes: dict[str, int] = {}
    problems = []
    for prediction in Prediction.objects.filter(pk__in=ids):
        kinds = sorted(entries.get(prediction.pk, []))
        outcomes[prediction.status] = outcomes.get(prediction.status, 0) + 1
        expected = (
            [Kind.PREDICTION_CHARGE]
            if prediction.status == Prediction.Status.SUCCEEDED
            else sorted([Kind.PREDICTION_CHARGE, Kind.REFUND])
        )
        if prediction.status not in Prediction.FINISHED or kinds != expected:
            problems.append(f"prediction {prediction.pk} {prediction.status}: ledger {kinds}")
    assert not problems, problems[:20]
    assert billing_audit() == []
    return outcomes


# --- Figures --------------------------------------------------------------------------------


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
