"""Load for the reliability tests: ``Load`` runs clients that keep submitting
predictions, topping up and reading balances, each POST with its own Idempotency-Key,
records every ``Call`` and can retry the ones that failed with the same key and body.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tests.reliability.client import REQUEST_TIMEOUT, Answer, Http


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
