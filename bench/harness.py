"""The throwaway deployment the service benchmarks (bench_csv_service, bench_latency,
bench_throughput) run against, on loopback: its own database (SQLite file or a fresh
PostgreSQL database), broker (the ORM, or a Redis database of its own), gunicorn with
deploy/gunicorn.conf.py, and a real ``manage.py qcluster`` — plus the benchmark model
registered in it, users with API tokens and a small JSON client. Everything lives
under bench/out/ (git ignores it) and every process it starts is stopped on exit. The
data is made in workload.py; process and timing measurements are in measure.py.

Nothing here is a test: the scripts print numbers, see docs/PERFORMANCE.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from measure import descendants
from workload import OUT, ROOT, trained_model_files

from devservers.ports import free_port

PYTHON = sys.executable

POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


# --- The deployment ------------------------------------------------------------------------


@dataclass
class Stack:
    """One throwaway deployment. Use as a context manager: processes stop on exit."""

    name: str
    postgres: bool = False
    redis: bool = False
    web_workers: int = 2
    web_threads: int = 8
    queue_workers: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.directory = OUT / f"run-{self.name}"
        shutil.rmtree(self.directory, ignore_errors=True)
        (self.directory / "media").mkdir(parents=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.database_name = f"mlservice_bench_{self.name.replace('-', '_')}"
        if self.postgres:
            database_url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.database_name
        else:
            database_url = f"sqlite:///{self.directory / 'db.sqlite3'}"
        self.env = {
            "DJANGO_SETTINGS_MODULE": "mlservice.settings",
            "VAR_DIR": str(self.directory),
            "MEDIA_ROOT": str(self.directory / "media"),
            "DATABASE_URL": database_url,
            "DEBUG": "0",
            "SECRET_KEY": "benchmark-only-secret-key-not-for-production-use-0123456789",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_COOKIES": "0",
            "LOG_LEVEL": "WARNING",
            "QUEUE_NAME": f"bench-{self.name}",
            "WORKERS": str(self.queue_workers),
            "PROMETHEUS_MULTIPROC_DIR": str(self.directory / "prometheus"),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(self.web_workers),
            "GUNICORN_THREADS": str(self.web_threads),
            "GUNICORN_TIMEOUT": "600",
            "PYTHONUNBUFFERED": "1",
        }
        if self.redis:
            self.env["REDIS_URL"] = REDIS_URL
        self.env.update(self.extra_env)

    # Set-up, in this process --------------------------------------------------------------

    def prepare_database(self) -> None:
        if self.postgres:
            import psycopg

            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')
                connection.execute(f'CREATE DATABASE "{self.database_name}"')
        if self.redis:
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("createcachetable", verbosity=0)

    def __enter__(self) -> Stack:
        self.prepare_database()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        if self.postgres:
            from django.db import connections

            connections.close_all()
            with contextlib.suppress(Exception):
                import psycopg

                with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
                    connection.execute(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')

    # Processes -----------------------------------------------------------------------------

    def _spawn(self, command: list[str], log_name: str) -> subprocess.Popen:
        log = open(self.directory / log_name, "wb")  # noqa: SIM115 -- lives as long as the process
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start_web(self, timeout: float = 60) -> subprocess.Popen:
        gunicorn = str(Path(PYTHON).with_name("gunicorn"))
        process = self._spawn([gunicorn, "-c", "deploy/gunicorn.conf.py", "mlservice.wsgi"], "web.log")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log('web.log')[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/api/v1/", timeout=2):
                    return process
            except urllib.error.HTTPError:
                return process  # 401 without a token: it answers
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer in time")

    def start_worker(self, timeout: float = 60) -> subprocess.Popen:
        process = self._spawn([PYTHON, "manage.py", "qcluster"], "qcluster.log")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"qcluster exited:\n{self.log('qcluster.log')[-3000:]}")
            if "running" in self.log("qcluster.log") or self._cluster_running():
                return process
            time.sleep(0.2)
        raise RuntimeError("qcluster did not start in time")

    def _cluster_running(self) -> bool:
        # With LOG_LEVEL=WARNING the "running" line is not logged: count the workers.
        return len(descendants(self.processes[-1].pid)) >= self.queue_workers + 3

    def log(self, name: str) -> str:
        path = self.directory / name
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        # SIGTERM to each main process only (qcluster stops its own children; signalling
        # its process group leaves them stuck in the inherited handler), then SIGKILL.
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self.processes.clear()


# --- Objects in the database ---------------------------------------------------------------


def register_model(*, owner, price_per_row: Decimal = Decimal("0.0001")):
    """A ready, public TrainedModel whose artifact is the benchmark model."""
    from django.conf import settings

    from mlmodels.models import Algorithm, TrainedModel

    artifact, data = trained_model_files()
    relative = "models/bench/service_model.joblib"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(artifact, target)
    algorithm, _ = Algorithm.objects.get_or_create(
        key="logistic_regression", defaults={"name": "Logistic regression", "task": "classification"}
    )
    return TrainedModel.objects.create(
        owner=owner,
        name="bench-logistic",
        algorithm=algorithm,
        task="classification",
        target="target",
        status=TrainedModel.Status.READY,
        progress=100,
        feature_schema=data["feature_schema"],
        artifact=relative,
        artifact_sha256=data["sha256"],
        artifact_size=target.stat().st_size,
        price_per_row=price_per_row,
        is_public=True,
        is_active=True,
    )


def make_users(count: int, *, coins: str = "1000000") -> list[tuple[object, str]]:
    """``count`` users with plenty of coins, and their API tokens."""
    from accounts.services import token_for_user, user_register
    from billing.services import account_grant

    users = []
    for number in range(count):
        user = user_register(username=f"bench{number}", password="a-Long-and-unusual-passphrase-42")
        account_grant(user=user, amount=coins, granted_by=None, memo="benchmark")
        users.append((user, token_for_user(user=user).key))
    return users


# --- HTTP ----------------------------------------------------------------------------------


def api_json(
    url: str, token: str, *, method: str = "GET", body: dict | None = None, headers=None
) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Token {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def download(url: str, token: str, target: Path) -> tuple[str, int]:
    """GET ``url`` (an API download) into ``target``, streamed; its first line and size."""
    request = urllib.request.Request(url)
    request.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(request, timeout=600) as response, open(target, "wb") as output:
        shutil.copyfileobj(response, output, 1024 * 1024)
    with open(target) as handle:
        header = handle.readline().strip()
    return header, target.stat().st_size
