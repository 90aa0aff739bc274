"""What a job's webhook body is: the object ``GET`` of that resource returns. Each job
app registers a renderer for its resource (this app imports none of them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_renderers: dict[str, Callable[[int], dict[str, Any]]] = {}


def register_resource(resource: str, render: Callable[[int], dict[str, Any]]) -> None:
    """``render(job_id)``: the resource as its GET answers it (the same serializer)."""
    _renderers[resource] = render


def render_resource(resource: str, job_id: int) -> dict[str, Any]:
    return _renderers[resource](job_id)
