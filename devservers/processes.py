"""Starting a server process and waiting until it answers; stopping it with its
children."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path


def wait_until_answering(
    process: subprocess.Popen, url: str, *, log_path: Path, timeout: float, name: str
) -> None:
    """Return once ``url`` answers 200; RuntimeError (with the end of the log) if the
    process exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"{name} exited with {process.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{name} did not answer within {timeout} s:\n{log_path.read_text(errors='replace')[-3000:]}"
            )
        time.sleep(0.1)


def stop_session(process: subprocess.Popen | None, *, grace: float = 20) -> None:
    """Stop a process started with ``start_new_session=True`` and everything in its
    session: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
