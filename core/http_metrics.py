"""This process's HTTP metrics (Prometheus' client), counted by the request middleware
and read by ``operations.metrics``. No database: a scrape-side process or a test can
import it before Django is set up."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, disable_created_metrics
from prometheus_client import values as prometheus_values

# prometheus_client chose its storage when it was first imported, from the
# PROMETHEUS_MULTIPROC_DIR environment variable: files shared by processes, or memory.
MULTIPROCESS = prometheus_values.ValueClass is not prometheus_values.MutexValue

# The *_created series double the output and no dashboard here uses them.
disable_created_metrics()

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
HTTP_REQUESTS = Counter(
    "mlservice_http_requests",
    "HTTP requests answered, by view, method and status.",
    ["view", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "mlservice_http_request_duration_seconds",
    "Time to answer an HTTP request (until the response is returned, not streamed), by view and method.",
    ["view", "method"],
    buckets=HTTP_BUCKETS,
)
# Anything else would let a client mint label values.
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def record_request(*, view: str, method: str, status: int, seconds: float) -> None:
    method = method if method in _METHODS else "other"
    HTTP_REQUESTS.labels(view=view, method=method, status=str(status)).inc()
    HTTP_LATENCY.labels(view=view, method=method).observe(seconds)
