"""A real HTTP receiver on loopback, the settings that let the service call it, and
the models and datasets of the prediction and training tests."""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devservers.ports import free_port
from tests.mlmodels.conftest import dataset, make_dataset  # noqa: F401  fixtures
from tests.predictions.conftest import classifier, make_model, row  # noqa: F401  fixtures

README = Path(__file__).resolve().parents[2] / "README.md"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every request; answers each with the next of ``answers`` (status,
    extra headers), the last one for ever after."""

    port: int
    requests: list[Received] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=lambda: [(200, {})])
    # Seconds to wait before answering (a slow receiver).
    delay: float = 0.0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self, tls: ssl.SSLContext | None = None) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(
                    Received(self.path, {key.lower(): value for key, value in self.headers.items()}, body)
                )
                time.sleep(receiver.delay)
                index = min(len(receiver.requests), len(receiver.answers)) - 1
                status, headers = receiver.answers[index]
                answer = b"x" * 5000 if status == 200 else f"answer {status}".encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST  # noqa: N815 - a followed redirect would arrive as a GET

            def log_message(self, *args):
                pass

        self.server = QuietServer(("127.0.0.1", self.port), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that gave up (the timeout test) is expected, not news


@pytest.fixture
def receiver():
    started = Receiver(port=free_port())
    started.start()
    yield started
    started.stop()


@pytest.fixture
def stopped_receiver():
    """A receiver not listening yet: its port refuses connections until ``start()``."""
    waiting = Receiver(port=free_port())
    yield waiting
    waiting.stop()


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    # The receiver is on loopback over plain HTTP; the safety tests turn these off.
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def alice_secret(alice) -> str:
    from webhooks.services import webhook_secret_regenerate

    secret, _ = webhook_secret_regenerate(user=alice)
    return secret


@pytest.fixture
def readme_verify() -> Callable[..., bool]:
    """The README's signature check, run as written there."""
    text = README.read_text(encoding="utf-8")
    [code] = [block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "def verify(" in block]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace["verify"]
