"""The service the reliability tests run against, in production mode: gunicorn with
DEBUG off (``ProductionServer``) and the environment of a production deployment on the
test database (``production_env``), the stop of qcluster processes, and whether the
suite can run here at all. The HTTP client is in client.py, restarts of PostgreSQL
and Redis in outages.py, the load generator in traffic.py, the job and money checks
in settling.py and the figures file that docs/RELIABILITY.md quotes in figures.py.

Everything here talks to 127.0.0.1 only, and every wait is bounded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devservers.ports import free_port
from tests.conftest import BASE_DIR, Worker, database_url_for_subprocess, wait_for
from tests.reliability.client import Http

# --- When the suite can run -------------------------------------------------------------


def why_not_runnable() -> str | None:
    """None when PostgreSQL and Redis are configured, else the reason to skip."""
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        return "reliability suite needs PostgreSQL (DATABASE_URL=postgres://...) and Redis (REDIS_URL)"
    if not os.environ.get("REDIS_URL"):
        return "reliability suite needs Redis (REDIS_URL=redis://...) besides PostgreSQL"
    return None


# --- The service in production mode -----------------------------------------------------


METRICS_TOKEN = "reliability-metrics-token"


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
        # A queue and cache keys of our own: other test runs may share this Redis.
        "QUEUE_NAME": queue_name,
        "CACHE_KEY_PREFIX": queue_name,
        "METRICS_TOKEN": METRICS_TOKEN,
        "THROTTLE_ANON": "100000/min",
        "THROTTLE_USER": "100000/min",
        "THROTTLE_REGISTER": "100000/min",
        "LOGIN_FAILURE_LIMIT": "1000",
        # The load tests are a handful of accounts standing for many clients; the cap on
        # one account's jobs has its own tests (tests/predictions/test_active_jobs_cap.py).
        "MAX_ACTIVE_JOBS_PER_USER": "100000",
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
