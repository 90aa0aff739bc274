"""``/metrics`` in Prometheus' text format.

Two sources, so the numbers are right however many processes serve the site:

* **HTTP requests** are counted in the web process that answers them. With several
  web processes (gunicorn workers) set ``PROMETHEUS_MULTIPROC_DIR`` (the gunicorn
  config in deploy/ does): every process then writes its counts to files there, and a
  scrape, whichever process answers it, adds up all of them. Without it, the counts
  live in this process only (``runserver``, one gunicorn worker).
* **The service's own numbers** (jobs, rows, durations, queue wait, coins, the model
  cache) are computed from the database at scrape time, with aggregates only (see
  mlservice.selectors), and the queue depth and live clusters are read from the
  broker. Every web process gives the same answer, and so does a restarted one.

Access: loopback clients, or anyone with ``Authorization: Bearer <METRICS_TOKEN>``
when that setting is present (then it is required from everyone).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from collections.abc import Iterable

from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import values as prometheus_values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

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

MODEL_CACHE_HITS = "model_cache_hits"
MODEL_CACHE_MISSES = "model_cache_misses"


def record_request(*, view: str, method: str, status: int, seconds: float) -> None:
    method = method if method in _METHODS else "other"
    HTTP_REQUESTS.labels(view=view, method=method, status=str(status)).inc()
    HTTP_LATENCY.labels(view=view, method=method).observe(seconds)


def record_model_cache(hit: bool) -> None:
    """Count one lookup in a worker's model cache. The counters are rows in the
    database, so every worker process on every machine adds to the same totals.
    Never raises: a metric must not fail a prediction."""
    from mlservice.services import counter_increment

    try:
        # A savepoint when called inside a transaction: a failure here rolls back
        # only the count.
        with transaction.atomic():
            counter_increment(name=MODEL_CACHE_HITS if hit else MODEL_CACHE_MISSES)
    except DatabaseError as error:
        logger.warning("model cache %s not counted: %s", "hit" if hit else "miss", error)


# --- Computed at scrape time ----------------------------------------------------------------


def _histogram_family(name: str, documentation: str, labels: list[str]) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, documentation, labels=labels)


def _add_histogram(family: HistogramMetricFamily, label_values: list[str], histogram) -> None:
    buckets = [
        (_le(bound), count) for bound, count in zip(histogram.bounds, histogram.cumulative, strict=True)
    ]
    buckets.append(("+Inf", histogram.count))
    family.add_metric(label_values, buckets, histogram.sum_seconds)


def _le(bound: float) -> str:
    return repr(float(bound))


def _database_families() -> list[Metric]:
    from mlservice import selectors
    from predictions.models import Prediction

    families: list[Metric] = []

    created = CounterMetricFamily(
        "mlservice_predictions_submitted", "Predictions submitted, by model.", labels=["model_id", "model"]
    )
    finished = CounterMetricFamily(
        "mlservice_predictions_finished",
        "Predictions that ended, by model and final status (succeeded, failed, canceled).",
        labels=["model_id", "model", "status"],
    )
    rows_scored = CounterMetricFamily(
        "mlservice_prediction_rows_scored",
        "Rows scored by succeeded predictions, by model.",
        labels=["model_id", "model"],
    )
    jobs = GaugeMetricFamily(
        "mlservice_jobs",
        "Jobs waiting for or held by a worker now, by kind and status.",
        labels=["kind", "status"],
    )
    in_flight = {(kind, status): 0 for kind in ("prediction", "training") for status in ("queued", "running")}
    created_by_model: dict[tuple[str, str], int] = {}
    scored_by_model: dict[tuple[str, str], int] = {}
    for total in selectors.prediction_totals():
        model = (str(total.model_id), total.model)
        created_by_model[model] = created_by_model.get(model, 0) + total.count
        if total.status in selectors.PREDICTION_FINISHED:
            finished.add_metric([*model, total.status], total.count)
        if total.status == Prediction.Status.SUCCEEDED:
            scored_by_model[model] = scored_by_model.get(model, 0) + total.rows
        if ("prediction", total.status) in in_flight:
            in_flight["prediction", total.status] += total.count
    for model, count in created_by_model.items():
        created.add_metric(list(model), count)
    for model, rows in scored_by_model.items():
        rows_scored.add_metric(list(model), rows)
    families += [created, finished, rows_scored]

    trainings_created = CounterMetricFamily(
        "mlservice_trainings_submitted", "Training jobs submitted, by algorithm.", labels=["algorithm"]
    )
    trainings_finished = CounterMetricFamily(
        "mlservice_trainings_finished",
        "Training jobs that ended, by algorithm and final status (ready, failed).",
        labels=["algorithm", "status"],
    )
    created_by_algorithm: dict[str, int] = {}
    for row in selectors.training_totals():
        algorithm = row["algorithm_key"]
        created_by_algorithm[algorithm] = created_by_algorithm.get(algorithm, 0) + row["count"]
        if row["status"] in selectors.TRAINING_FINISHED:
            trainings_finished.add_metric([algorithm, row["status"]], row["count"])
        if ("training", row["status"]) in in_flight:
            in_flight["training", row["status"]] += row["count"]
    for algorithm, count in created_by_algorithm.items():
        trainings_created.add_metric([algorithm], count)
    for (kind, status), count in in_flight.items():
        jobs.add_metric([kind, status], count)
    families += [trainings_created, trainings_finished, jobs]

    prediction_duration = _histogram_family(
        "mlservice_prediction_duration_seconds",
        "Time a worker spent on a prediction (started → finished), by final status.",
        ["status"],
    )
    for status, histogram in selectors.prediction_duration_histograms().items():
        _add_histogram(prediction_duration, [status], histogram)
    training_duration = _histogram_family(
        "mlservice_training_duration_seconds",
        "Time a worker spent training a model (started → finished), by final status.",
        ["status"],
    )
    for status, histogram in selectors.training_duration_histograms().items():
        _add_histogram(training_duration, [status], histogram)
    queue_wait = _histogram_family(
        "mlservice_job_queue_wait_seconds",
        "Time a job waited between being submitted and a worker starting it, by kind.",
        ["kind"],
    )
    for kind, histogram in selectors.queue_wait_histograms().items():
        _add_histogram(queue_wait, [kind], histogram)
    families += [prediction_duration, training_duration, queue_wait]

    coins = CounterMetricFamily(
        "mlservice_ledger_coins",
        "Coins moved by ledger entries, by kind and direction: debit (charges: prediction_charge, "
        "training_fee) or credit (refund, topup, grant, signup_bonus); adjustments can go both ways.",
        labels=["kind", "direction"],
    )
    entries = CounterMetricFamily(
        "mlservice_ledger_entries", "Ledger entries written, by kind.", labels=["kind"]
    )
    for total in selectors.ledger_totals():
        entries.add_metric([total.kind], total.entries)
        if total.credited:
            coins.add_metric([total.kind, "credit"], float(total.credited))
        if total.debited:
            coins.add_metric([total.kind, "debit"], float(total.debited))
    families += [coins, entries]

    counters = selectors.counter_values(prefix="model_cache_")
    hits = CounterMetricFamily(
        "mlservice_model_cache_hits", "Predictions whose worker had the model's pipeline loaded already."
    )
    hits.add_metric([], counters.get(MODEL_CACHE_HITS, 0))
    misses = CounterMetricFamily(
        "mlservice_model_cache_misses",
        "Predictions whose worker had to load (and verify) the model's artifact.",
    )
    misses.add_metric([], counters.get(MODEL_CACHE_MISSES, 0))
    families += [hits, misses]
    return families


def _broker_families() -> list[Metric]:
    from mlservice.health import broker_for_checks, live_clusters

    up = GaugeMetricFamily("mlservice_broker_up", "1 when the task broker answered this scrape.")
    families: list[Metric] = [up]
    try:
        broker = broker_for_checks()
        depth = broker.queue_size()
        clusters = live_clusters(broker)
    except Exception as error:
        logger.warning("metrics: broker unavailable: %s: %s", type(error).__name__, error)
        up.add_metric([], 0)
        return families
    up.add_metric([], 1)
    queue_depth = GaugeMetricFamily("mlservice_queue_depth", "Tasks waiting in the broker's queue.")
    queue_depth.add_metric([], depth or 0)
    alive = GaugeMetricFamily("mlservice_worker_clusters", "qcluster processes seen alive (django-q status).")
    alive.add_metric([], len(clusters))
    processes = GaugeMetricFamily("mlservice_worker_processes", "Worker processes in the live qclusters.")
    processes.add_metric([], sum(cluster.workers for cluster in clusters))
    return families + [queue_depth, alive, processes]


_cache_lock = threading.Lock()
_cached: tuple[float, list[Metric]] | None = None


def service_families() -> list[Metric]:
    """The database and broker families, reused for METRICS_CACHE_SECONDS."""
    global _cached
    with _cache_lock:
        if _cached is not None and time.monotonic() < _cached[0]:
            return _cached[1]
        started = time.monotonic()
        families: list[Metric] = []
        database_up = GaugeMetricFamily(
            "mlservice_database_metrics_up", "1 when the service metrics could be read from the database."
        )
        try:
            families += _database_families()
            database_up.add_metric([], 1)
        except DatabaseError as error:
            logger.warning("metrics: database unavailable: %s: %s", type(error).__name__, error)
            database_up.add_metric([], 0)
        families += _broker_families()
        families.append(database_up)
        took = GaugeMetricFamily(
            "mlservice_metrics_collect_seconds", "Time this scrape spent reading the database and the broker."
        )
        took.add_metric([], time.monotonic() - started)
        families.append(took)
        _cached = (time.monotonic() + settings.METRICS_CACHE_SECONDS, families)
        return families


def clear_cache() -> None:
    global _cached
    with _cache_lock:
        _cached = None


class _ServiceCollector:
    def collect(self) -> Iterable[Metric]:
        return service_families()


class _ProcessCollector:
    """This process's own registry (HTTP metrics, plus the process and Python
    collectors) when there is no multiprocess folder."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if MULTIPROCESS:
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessCollector())
    registry.register(_ServiceCollector())
    return registry


# --- The view ----------------------------------------------------------------------------------


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _bearer_token(request) -> str:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


@never_cache
@require_safe
def metrics_view(request):
    token = settings.METRICS_TOKEN
    if token:
        if not hmac.compare_digest(_bearer_token(request).encode(), token.encode()):
            response = HttpResponse(
                "A valid bearer token is required.\n", status=401, content_type="text/plain"
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not _is_loopback(request.META.get("REMOTE_ADDR", "")):
        return HttpResponse(
            "Metrics are served to loopback clients only; set METRICS_TOKEN to scrape from elsewhere.\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
