"""Shared fixtures: three users — alice (owner), bob (another user), staff (operator) —
API clients, and a real qcluster worker process for round-trip tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "a-Long-and-unusual-passphrase-42"


def wait_for(
    predicate: Callable[[], object], *, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"
):
    """Poll ``predicate`` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """One test database per test run, so runs side by side never drop each other's.
    On SQLite a file, not the in-memory default: tests start a real qcluster in another
    process, which must open the same database."""
    from django.db import connections

    database = connections["default"].settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        folder = BASE_DIR / "var" / "test"
        folder.mkdir(parents=True, exist_ok=True)
        database["TEST"]["NAME"] = str(folder / f"db-{os.getpid()}.sqlite3")
    else:
        database["TEST"]["NAME"] = f"test_mlservice_{os.getpid()}"


def pytest_sessionfinish(session, exitstatus):
    # SQLite leaves -wal/-shm files beside the test database it deletes.
    for path in (BASE_DIR / "var" / "test").glob(f"db-{os.getpid()}.sqlite3*"):
        path.unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _fresh_cache(settings, request):
    # Each test gets its own empty cache so login and API throttles start from zero.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": request.node.nodeid,
        }
    }


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()


@pytest.fixture(autouse=True)
def _api_test_format(settings):
    # DRF's test client sends JSON unless a test says otherwise.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "TEST_REQUEST_DEFAULT_FORMAT": "json"}


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _make_user(username: str, *, is_staff: bool = False):
    from accounts.services import user_register

    user = user_register(username=username, password=PASSWORD, email=f"{username}@example.com")
    if is_staff:
        user.is_staff = True
        user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    return user


@pytest.fixture
def alice(db):
    return _make_user("alice")


@pytest.fixture
def bob(db):
    return _make_user("bob")


@pytest.fixture
def staff(db):
    return _make_user("staff", is_staff=True)


def _api_client_for(user):
    from rest_framework.test import APIClient

    from accounts.services import token_for_user

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for_user(user=user).key}")
    return client


@pytest.fixture
def api():
    """An anonymous API client."""
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def alice_api(alice):
    return _api_client_for(alice)


@pytest.fixture
def bob_api(bob):
    return _api_client_for(bob)


@pytest.fixture
def staff_api(staff):
    return _api_client_for(staff)


@pytest.fixture
def alice_web(client, alice):
    client.force_login(alice)
    return client


def database_url_for_subprocess() -> str:
    """A DATABASE_URL naming the database the tests use right now (the test database,
    not the development one), for processes the tests start."""
    from django.db import connection

    settings_dict = connection.settings_dict
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    if settings_dict["ENGINE"].endswith("postgresql"):
        user = settings_dict.get("USER") or ""
        password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"
    raise RuntimeError(f"no subprocess URL for {settings_dict['ENGINE']}")


class Worker:
    """A real ``manage.py qcluster`` process on the test database and broker."""

    def __init__(self, *, workers: int, log_path: Path, extra_env: dict[str, str] | None = None):
        env = os.environ.copy()
        env.update(
            {
                "DATABASE_URL": database_url_for_subprocess(),
                "WORKERS": str(workers),
                "PYTHONUNBUFFERED": "1",
                "DJANGO_SETTINGS_MODULE": "mlservice.settings",
                # A cache of its own (as each test's locmem one): counts kept in Redis by
                # an earlier run, whose job ids this run's fresh database reuses, must not
                # leak in (a job's fairness deferrals, throttles).
                "CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            }
        )
        from django.conf import settings

        env["MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
        env.update(extra_env or {})
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready():
            if self.process.poll() is not None:
                pytest.fail(f"qcluster exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            return "running" in self.log()

        wait_for(ready, timeout=timeout, what="qcluster to start")

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, not a shutdown."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGTERM to the cluster's main process only: it stops its own children.
            # Signalling the whole group makes django-q's shutdown hang.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest.fixture
def start_worker(transactional_db, tmp_path, settings):
    """Start real qcluster processes: ``start_worker(workers=2)``. They are stopped
    before the test database is flushed."""
    from django_q.brokers import get_broker

    get_broker().purge_queue()
    started: list[Worker] = []

    def start(*, workers: int = 2, extra_env: dict[str, str] | None = None) -> Worker:
        worker = Worker(
            workers=workers, log_path=tmp_path / f"qcluster-{len(started)}.log", extra_env=extra_env
        )
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def worker(start_worker):
    return start_worker()
