#!/usr/bin/env python3
"""A steady, bounded stream of predictions for demos: one-row JSON predictions and,
now and then, a CSV file, sent through the public API with a token.

    python deploy/loadgen.py            # settings from the environment (below)
    docker compose -f deploy/docker-compose.yml --profile loadgen up loadgen

Bounded on every side: at most LOADGEN_RATE requests per second (≤ 20), for at most
LOADGEN_DURATION seconds (≤ 1 day) and LOADGEN_MAX_REQUESTS requests, CSV files of
LOADGEN_CSV_ROWS rows (≤ 10,000). One request at a time: it never piles up work.

Environment (all optional):
  LOADGEN_URL            the site (http://web:8000)
  LOADGEN_TOKEN[_FILE]   an API token; without one, a user of its own is registered
  LOADGEN_MODELS         model ids, comma separated (default: every public ready model)
  LOADGEN_RATE           requests per second (1)
  LOADGEN_DURATION       seconds (600)
  LOADGEN_MAX_REQUESTS   requests in all (100000)
  LOADGEN_CSV_SHARE      share of requests that send a CSV file (0.1)
  LOADGEN_CSV_ROWS       rows per CSV (200)
  LOADGEN_SHIFT          move numbers by this many training ranges, to show drift (0)
  LOADGEN_UNKNOWN        share of categories replaced by unseen ones, to show drift (0)
  LOADGEN_TOPUP          coins to add (self top-up) when the account runs dry (1000; 0: stop)
  LOADGEN_SEED           random seed (none)

Standard library only: it runs in the service's image or anywhere with Python 3.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import secrets
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

LIMITS = {"rate": 20.0, "duration": 86_400.0, "csv_rows": 10_000}


class Stop(Exception):
    """Nothing more can be sent (no model, no coins, a refused token)."""


def _env(name: str, default: str) -> str:
    path = os.environ.get(f"{name}_FILE")
    if path:
        with open(path, encoding="utf-8") as file:
            return file.read().strip()
    return os.environ.get(name, default)


@dataclass
class Settings:
    url: str = "http://web:8000"
    token: str = ""
    models: list[int] = field(default_factory=list)
    rate: float = 1.0
    duration: float = 600.0
    max_requests: int = 100_000
    csv_share: float = 0.1
    csv_rows: int = 200
    shift: float = 0.0
    unknown: float = 0.0
    topup: str = "1000"
    seed: int | None = None

    @classmethod
    def from_environment(cls) -> Settings:
        models = [int(part) for part in _env("LOADGEN_MODELS", "").split(",") if part.strip()]
        seed = _env("LOADGEN_SEED", "")
        return cls(
            url=_env("LOADGEN_URL", cls.url).rstrip("/"),
            token=_env("LOADGEN_TOKEN", ""),
            models=models,
            rate=float(_env("LOADGEN_RATE", "1")),
            duration=float(_env("LOADGEN_DURATION", "600")),
            max_requests=int(_env("LOADGEN_MAX_REQUESTS", "100000")),
            csv_share=float(_env("LOADGEN_CSV_SHARE", "0.1")),
            csv_rows=int(_env("LOADGEN_CSV_ROWS", "200")),
            shift=float(_env("LOADGEN_SHIFT", "0")),
            unknown=float(_env("LOADGEN_UNKNOWN", "0")),
            topup=_env("LOADGEN_TOPUP", "1000"),
            seed=int(seed) if seed else None,
        ).bounded()

    def bounded(self) -> Settings:
        if not 0 < self.rate <= LIMITS["rate"]:
            raise SystemExit(f"LOADGEN_RATE must be above 0 and at most {LIMITS['rate']:g}")
        if not 0 < self.duration <= LIMITS["duration"]:
            raise SystemExit(f"LOADGEN_DURATION must be above 0 and at most {LIMITS['duration']:g}")
        if not 1 <= self.csv_rows <= LIMITS["csv_rows"]:
            raise SystemExit(f"LOADGEN_CSV_ROWS must be 1 to {LIMITS['csv_rows']}")
        if not (0 <= self.csv_share <= 1 and 0 <= self.unknown <= 1 and self.max_requests >= 1):
            raise SystemExit(
                "LOADGEN_CSV_SHARE and LOADGEN_UNKNOWN are shares (0 to 1); LOADGEN_MAX_REQUESTS ≥ 1"
            )
        return self


class Client:
    def __init__(self, base: str, token: str = ""):
        self.base, self.token = base, token

    def call(
        self, method: str, path: str, body: bytes | None = None, content_type: str = ""
    ) -> tuple[int, dict]:
        request = urllib.request.Request(f"{self.base}/api/v1/{path}", data=body, method=method)
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                return error.code, json.loads(error.read() or b"{}")
            except ValueError:
                return error.code, {}

    def post_json(self, path: str, payload: dict) -> tuple[int, dict]:
        return self.call("POST", path, json.dumps(payload).encode(), "application/json")

    def post_file(self, path: str, fields: dict[str, str], name: str, content: bytes) -> tuple[int, dict]:
        boundary = secrets.token_hex(16)
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
            for key, value in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return self.call("POST", path, b"".join(parts), f"multipart/form-data; boundary={boundary}")


def sign_up(client: Client) -> str:
    username = f"loadgen-{secrets.token_hex(4)}"
    status, body = client.post_json(
        "auth/register/", {"username": username, "password": secrets.token_urlsafe(24)}
    )
    if status != 201:
        raise Stop(f"could not register a user ({status}): {body.get('detail', body)}")
    print(f"loadgen: registered {username}", flush=True)
    return body["token"]


def ready_models(client: Client, wanted: list[int]) -> list[dict]:
    """The models to predict with, with their features."""
    if not wanted:
        status, body = client.call("GET", "models/?status=ready")
        if status != 200:
            raise Stop(f"could not list the models ({status}): {body.get('detail', body)}")
        wanted = [model["id"] for model in body.get("results", []) if model.get("is_public")]
    models = []
    for model_id in wanted:
        status, body = client.call("GET", f"models/{model_id}/")
        if status == 200 and body.get("status") == "ready" and body.get("features"):
            models.append(body)
    if not models:
        raise Stop("no ready model to predict with: set LOADGEN_MODELS, or publish a model")
    return models


def make_row(model: dict, rng: random.Random, settings: Settings) -> dict:
    """One input row: numbers within the training range (moved by LOADGEN_SHIFT ranges),
    known categories (some unseen ones with LOADGEN_UNKNOWN)."""
    row = {}
    for feature in model["features"]:
        kind, categories = feature["kind"], feature.get("categories") or []
        if kind == "numeric":
            low, high = feature.get("minimum"), feature.get("maximum")
            if low is None or high is None:
                example = feature.get("example")
                low, high = (example, example) if isinstance(example, int | float) else (0.0, 1.0)
            span = (high - low) or 1.0
            row[feature["name"]] = round(rng.uniform(low, high) + settings.shift * span, 6)
        elif kind == "boolean":
            row[feature["name"]] = rng.choice([True, False])
        elif categories and rng.random() >= settings.unknown:
            row[feature["name"]] = rng.choice(categories)
        else:
            row[feature["name"]] = f"unseen-{rng.randint(1, 5)}"
    return row


def csv_bytes(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def run(settings: Settings, *, clock=time.monotonic, sleep=time.sleep, log=print) -> Counter:
    """Send the predictions; returns how many answered each status (and "csv"/"json")."""
    rng = random.Random(settings.seed)
    client = Client(settings.url, settings.token)
    if not client.token:
        client.token = sign_up(client)
    models = ready_models(client, settings.models)
    log(f"loadgen: {len(models)} model(s), {settings.rate:g}/s for {settings.duration:g} s", flush=True)
    counts: Counter = Counter()
    started = clock()
    next_at, reported_at = started, started
    while counts["sent"] < settings.max_requests and clock() - started < settings.duration:
        model = rng.choice(models)
        if rng.random() < settings.csv_share:
            rows = [make_row(model, rng, settings) for _ in range(settings.csv_rows)]
            status, body = client.post_file(
                "predictions/", {"model": str(model["id"])}, "loadgen.csv", csv_bytes(rows)
            )
            counts["csv"] += 1
        else:
            status, body = client.post_json(
                "predictions/", {"model": model["id"], "inputs": make_row(model, rng, settings)}
            )
            counts["json"] += 1
        counts["sent"] += 1
        counts[status] += 1
        if status == 402:
            if settings.topup in ("", "0"):
                raise Stop("out of coins (LOADGEN_TOPUP=0)")
            topped, answer = client.post_json("billing/topup/", {"amount": settings.topup})
            if topped != 201:
                raise Stop(
                    f"out of coins and the top-up was refused ({topped}): {answer.get('detail', answer)}"
                )
        elif status in (401, 403):
            raise Stop(f"the API refused the token ({status}): {body.get('detail', body)}")
        if clock() - reported_at >= 30:
            reported_at = clock()
            log(f"loadgen: {dict(counts)}", flush=True)
        next_at += 1 / settings.rate
        pause = next_at - clock()
        if pause > 0:
            sleep(pause)
        else:
            next_at = clock()  # behind (slow answers): no burst to catch up
    log(f"loadgen: done: {dict(counts)}", flush=True)
    return counts


def main() -> int:
    try:
        run(Settings.from_environment())
    except Stop as reason:
        print(f"loadgen: stopped: {reason}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
