"""Benchmark: server time of sign-up and log-in with the configured password hashers —
the site's sign-up and log-in forms, the admin's log-in, and the API's ``auth/register/``
and ``auth/token/`` — median over a few requests each, and how many times each request
hashed a password.

    .venv/bin/python bench/bench_auth.py
    .venv/bin/python bench/bench_auth.py --requests 9
    .venv/bin/python bench/bench_auth.py --pbkdf2     # as it was before: PBKDF2 first

Target (issue 15): under 400 ms of server time for sign-up and log-in on the 2-core
machine. Runs in this process through Django's test client (no network, no worker)
against a throwaway SQLite database under bench/out/, so it measures what the server
spends, of which the password hash is nearly all.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5, help="requests of each kind (default 5)")
    parser.add_argument(
        "--pbkdf2",
        action="store_true",
        help="hash with Django's PBKDF2 first, as before Argon2id (to compare)",
    )
    arguments = parser.parse_args()

    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    var_dir = tempfile.mkdtemp(prefix="auth-", dir=ROOT / "bench" / "out")
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ["VAR_DIR"] = var_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlservice.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import hashers
    from django.core.management import call_command
    from django.test import Client

    if arguments.pbkdf2:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
        hashers.get_hashers.cache_clear()
        hashers.get_hashers_by_algorithm.cache_clear()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)

    hashes = {"count": 0}
    hasher_classes = {type(h) for h in hashers.get_hashers()}
    for cls in hasher_classes:
        original = cls.encode

        def counted(self, *args, _original=original, **kwargs):
            hashes["count"] += 1
            return _original(self, *args, **kwargs)

        cls.encode = counted
        # verify() calls encode() for PBKDF2; Argon2 verifies without it: count it too.
        if "verify" in cls.__dict__ and cls.__name__.startswith("Argon2"):
            original_verify = cls.verify

            def counted_verify(self, *args, _original=original_verify, **kwargs):
                hashes["count"] += 1
                return _original(self, *args, **kwargs)

            cls.verify = counted_verify

    password = "a-long-passphrase-42"
    results: dict[str, tuple[list[float], list[int]]] = {}

    def timed(name: str, client, path: str, data: dict, expect: int, **extra) -> None:
        hashes["count"] = 0
        started = time.perf_counter()
        response = client.post(path, data, **extra)
        elapsed = time.perf_counter() - started
        if response.status_code != expect:
            raise SystemExit(f"{name}: answered {response.status_code}, expected {expect}")
        times, counts = results.setdefault(name, ([], []))
        times.append(elapsed * 1000)
        counts.append(hashes["count"])

    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("operator", "op@example.com", password)
    as_json = {"content_type": "application/json"}
    for index in range(arguments.requests):
        # Each round from its own address: the registration throttle counts per address.
        address = {"REMOTE_ADDR": f"10.0.{index // 250}.{index % 250 + 1}", "HTTP_HOST": "127.0.0.1"}
        web = {"username": f"web{index}", "password": password}
        sign_up = {"username": web["username"], "email": "", "password1": password, "password2": password}
        timed("sign-up (site form)", Client(**address), "/accounts/register/", sign_up, 302)
        timed("log-in (site form)", Client(**address), "/accounts/login/", web, 302)
        operator = {"username": "operator", "password": password}
        timed("log-in (admin)", Client(**address), "/admin/login/?next=/admin/", operator, 302)
        api = {"username": f"api{index}", "password": password}
        timed(
            "sign-up (API auth/register/)", Client(**address), "/api/v1/auth/register/", api, 201, **as_json
        )
        timed("log-in (API auth/token/)", Client(**address), "/api/v1/auth/token/", api, 200, **as_json)

    first = hashers.get_hasher("default")
    alone = []
    for _ in range(arguments.requests):
        started = time.perf_counter()
        first.encode(password, first.salt())
        alone.append((time.perf_counter() - started) * 1000)
    print(f"first hasher: {type(first).__name__}, one hash alone: median {statistics.median(alone):.0f} ms")
    if hasattr(os, "getloadavg"):
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'request':32} {'median ms':>10} {'max ms':>8} {'hashes':>7}")
    for name, (times, counts) in results.items():
        print(f"{name:32} {statistics.median(times):10.0f} {max(times):8.0f} {max(counts):7d}")


if __name__ == "__main__":
    main()
