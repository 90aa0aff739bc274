"""Restarting the real PostgreSQL and Redis under the reliability tests: stop and
start each (bounded waits until it answers again) and ``outage``, which takes one
down for a while and always brings it back, recording when it went down and came up.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass

from tests.conftest import wait_for

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
