"""``/metrics`` in Prometheus' text format.

Two sources, so the numbers are right however many processes serve the site:

* **HTTP requests** are counted in the web process that answers them. With several
  web processes (gunicorn workers) set ``PROMETHEUS_MULTIPROC_DIR`` (the gunicorn
  config in deploy/ does): every process then writes its counts to files there, and a
  scrape, whichever process answers it, adds up all of them. Without it, the counts
  live in this process only (``runserver``, one gunicorn worker).
* **The service's own numbers** (jobs, rows, durations, queue wait, coins, the model
  cache) are running totals in the database, raised in the transaction of each event
  (core.jobs.counts, billing.services._post): a scrape reads those few rows and counts
  the jobs in flight, a constant number of small queries however many jobs and ledger
  entries there are. The queue depth and live clusters are read from the broker.
  Every web process gives the same answer, and so does a restarted one.

Access: ``Authorization: Bearer <METRICS_TOKEN>``. With DEBUG off the token is
required from everyone (behind a reverse proxy on the same host every request comes
from loopback, so the client's address proves nothing); without one set, /metrics is
refused. With DEBUG on and no token set, loopback clients are served, but private
models appear by id only: their names are for the token's holder.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from collections.abc import Iterable

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from billing.services import LEDGER_CENTS, LEDGER_ENTRIES
from core.counters import MODEL_CACHE_HITS, MODEL_CACHE_MISSES, STORAGE_ERRORS
from core.http_metrics import MULTIPROCESS
from core.jobs import counts
from mlmodels.jobs import EXPERIMENT, TRAINING
from mlmodels.services.tracking import TRACKING_COUNTER
from monitoring.processes import live_processes
from monitoring.selectors import class_label, monitoring_figures
from monitoring.services import MONITORING_ERRORS
from operations import selectors
from operations.health import broker_for_checks, live_clusters
from predictions.jobs import PREDICTION
from webhooks.services import COUNTER as WEBHOOK_COUNTER
from webhooks.services import DELIVERED, FAILED, REFUSED, RETRYING

logger = logging.getLogger(__name__)


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


def _jobs_families(series: selectors.Series, *, private_names: bool) -> list[Metric]:
    """Jobs submitted and finished, rows scored: running totals (core.jobs.counts).
    The ``model`` label is the model's name, or its id for a private model unless
    ``private_names``."""
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
    by_prediction = {"kind": PREDICTION.name}
    submitted = selectors.series_values(series, counts.JOBS_SUBMITTED, **by_prediction)
    ended = selectors.series_values(series, counts.JOBS_FINISHED, **by_prediction)
    scored = selectors.series_values(series, counts.JOBS_SUCCEEDED + "rows", **by_prediction)
    names = selectors.model_names(
        (int(labels["model"]) for labels, _ in (*submitted, *ended, *scored) if labels["model"].isdigit()),
        private=private_names,
    )

    def model(labels: dict[str, str]) -> list[str]:
        model_id = labels["model"]
        return [model_id, names.get(int(model_id), model_id) if model_id.isdigit() else model_id]

    for labels, value in submitted:
        created.add_metric(model(labels), value)
    for labels, value in ended:
        finished.add_metric([*model(labels), labels["status"]], value)
    for labels, value in scored:
        rows_scored.add_metric(model(labels), value)

    trainings_created = CounterMetricFamily(
        "mlservice_trainings_submitted", "Training jobs submitted, by algorithm.", labels=["algorithm"]
    )
    trainings_finished = CounterMetricFamily(
        "mlservice_trainings_finished",
        "Training jobs that ended, by algorithm and final status (ready, failed).",
        labels=["algorithm", "status"],
    )
    for labels, value in selectors.series_values(series, counts.JOBS_SUBMITTED, kind=TRAINING.name):
        trainings_created.add_metric([labels["algorithm"]], value)
    for labels, value in selectors.series_values(series, counts.JOBS_FINISHED, kind=TRAINING.name):
        trainings_finished.add_metric([labels["algorithm"], labels["status"]], value)

    jobs = GaugeMetricFamily(
        "mlservice_jobs",
        "Jobs waiting for or held by a worker now, by kind and status.",
        labels=["kind", "status"],
    )
    # Counted now, not totals: only in-flight rows, found through the status index.
    in_flight = {
        (kind, status): 0
        for kind in ("prediction", "training", "experiment")
        for status in ("queued", "running")
    }
    for row in selectors.jobs_in_flight():
        in_flight[row["kind"], row["status"]] = row["count"]
    for (kind, status), count in in_flight.items():
        jobs.add_metric([kind, status], count)
    experiments_created = CounterMetricFamily(
        "mlservice_experiments_submitted", "Experiments submitted, by task.", labels=["task"]
    )
    experiments_finished = CounterMetricFamily(
        "mlservice_experiments_finished",
        "Experiments that ended, by task and final status (succeeded, failed, canceled).",
        labels=["task", "status"],
    )
    for labels, value in selectors.series_values(series, counts.JOBS_SUBMITTED, kind=EXPERIMENT.name):
        experiments_created.add_metric([labels["task"]], value)
    for labels, value in selectors.series_values(series, counts.JOBS_FINISHED, kind=EXPERIMENT.name):
        experiments_finished.add_metric([labels["task"], labels["status"]], value)
    return [
        created,
        finished,
        rows_scored,
        trainings_created,
        trainings_finished,
        experiments_created,
        experiments_finished,
        jobs,
    ]


def _histogram_families(series: selectors.Series) -> list[Metric]:
    prediction_duration = _histogram_family(
        "mlservice_prediction_duration_seconds",
        "Time a worker spent on a prediction (started → finished), by final status.",
        ["status"],
    )
    training_duration = _histogram_family(
        "mlservice_training_duration_seconds",
        "Time a worker spent training a model (started → finished), by final status.",
        ["status"],
    )
    # The statuses a job can end in after a worker started it (a canceled job never started).
    for family, kind, statuses in (
        (prediction_duration, PREDICTION, (PREDICTION.succeeded, PREDICTION.failed)),
        (training_duration, TRAINING, (TRAINING.succeeded, TRAINING.failed)),
    ):
        for status in map(str, statuses):
            histogram = selectors.counted_histogram(
                series,
                buckets=counts.JOB_DURATION,
                milliseconds=counts.JOB_DURATION_MS,
                bounds=kind.counts.duration_buckets,
                kind=kind.name,
                status=status,
            )
            _add_histogram(family, [status], histogram)
    queue_wait = _histogram_family(
        "mlservice_job_queue_wait_seconds",
        "Time a job waited between being submitted and a worker starting it, by kind.",
        ["kind"],
    )
    for kind in (PREDICTION, TRAINING):
        histogram = selectors.counted_histogram(
            series,
            buckets=counts.JOB_QUEUE_WAIT,
            milliseconds=counts.JOB_QUEUE_WAIT_MS,
            bounds=kind.counts.queue_wait_buckets,
            kind=kind.name,
        )
        _add_histogram(queue_wait, [kind.name], histogram)
    return [prediction_duration, training_duration, queue_wait]


def _ledger_and_cache_families(series: selectors.Series) -> list[Metric]:
    coins = CounterMetricFamily(
        "mlservice_ledger_coins",
        "Coins moved by ledger entries, by kind and direction: debit (charges: prediction_charge, "
        "training_fee) or credit (refund, topup, grant, signup_bonus); adjustments can go both ways.",
        labels=["kind", "direction"],
    )
    entries = CounterMetricFamily(
        "mlservice_ledger_entries", "Ledger entries written, by kind.", labels=["kind"]
    )
    for labels, value in sorted(selectors.series_values(series, LEDGER_ENTRIES), key=_by_labels):
        entries.add_metric([labels["kind"]], value)
    for labels, cents in sorted(selectors.series_values(series, LEDGER_CENTS), key=_by_labels):
        if cents:
            coins.add_metric([labels["kind"], labels["direction"]], cents / 100)

    cache = {
        name: sum(value for _, value in series.get(name, []))
        for name in (MODEL_CACHE_HITS, MODEL_CACHE_MISSES, STORAGE_ERRORS)
    }
    hits = CounterMetricFamily(
        "mlservice_model_cache_hits", "Predictions whose worker had the model's pipeline loaded already."
    )
    hits.add_metric([], cache.get(MODEL_CACHE_HITS, 0))
    misses = CounterMetricFamily(
        "mlservice_model_cache_misses",
        "Predictions whose worker had to load (and verify) the model's artifact.",
    )
    misses.add_metric([], cache.get(MODEL_CACHE_MISSES, 0))
    tracking = CounterMetricFamily(
        "mlservice_mlflow_tracking",
        "Runs logged to the MLflow tracking server (MLFLOW_TRACKING_URI), by outcome: logged or failed.",
        labels=["outcome"],
    )
    outcomes = dict.fromkeys(("failed", "logged"), 0)
    for labels, value in selectors.series_values(series, TRACKING_COUNTER):
        outcomes[labels.get("outcome", "")] = outcomes.get(labels.get("outcome", ""), 0) + value
    for outcome, value in sorted(outcomes.items()):
        tracking.add_metric([outcome], value)
    storage_errors = CounterMetricFamily(
        "mlservice_storage_errors",
        "Calls to the file storage (local disk or S3) that failed: unreachable, refused, timed out.",
    )
    storage_errors.add_metric([], cache.get(STORAGE_ERRORS, 0))
    return [coins, entries, hits, misses, tracking, storage_errors, _webhook_family(series)]


def _webhook_family(series: selectors.Series) -> Metric:
    webhooks = CounterMetricFamily(
        "mlservice_webhook_deliveries",
        "Webhook delivery attempts, by outcome: delivered (2xx), retrying (failed, another attempt "
        "is scheduled), failed (the last attempt failed) or refused (the URL is not allowed any more).",
        labels=["outcome"],
    )
    outcomes = dict.fromkeys((DELIVERED, FAILED, REFUSED, RETRYING), 0)
    for labels, value in selectors.series_values(series, WEBHOOK_COUNTER):
        outcome = labels.get("outcome", "")
        outcomes[outcome] = outcomes.get(outcome, 0) + value
    for outcome, value in sorted(outcomes.items()):
        webhooks.add_metric([outcome], value)
    return webhooks


def _by_labels(item: tuple[dict[str, str], int]) -> list[tuple[str, str]]:
    return sorted(item[0].items())


def _monitoring_families(series: selectors.Series, *, private_names: bool) -> list[Metric]:
    """What each model predicted and how far its inputs drifted (monitoring's running
    tallies and stored worst PSI, written by the workers). A private model's name and
    class names only with the token; its id and class positions otherwise."""
    figures = monitoring_figures()
    ids = [figure.model_id for figure in figures]
    names = selectors.model_names(ids, private=private_names)
    classes = selectors.model_classes(ids)
    predicted_class = CounterMetricFamily(
        "mlservice_predicted_class",
        "Rows predicted per class, by classifier (past 50 classes a model's others count as 'other').",
        labels=["model_id", "model", "class"],
    )
    predicted_value = _histogram_family(
        "mlservice_predicted_value",
        "Values predicted by regressors; the buckets are each model's training-target deciles.",
        ["model_id", "model"],
    )
    psi_max = GaugeMetricFamily(
        "mlservice_model_drift_psi_max",
        "Population stability index of the model's most drifted feature, recent predictions against "
        "training data (0.1: moderate, 0.25: large); only once DRIFT_MIN_ROWS rows were sampled.",
        labels=["model_id", "model"],
    )
    for figure in figures:
        model_id = str(figure.model_id)
        model = [model_id, names.get(figure.model_id, model_id)]
        if "sum" in figure.tallies:
            counts = [
                figure.tallies.get(f"b{bucket}", (0, 0.0))[0] for bucket in range(len(figure.value_edges) + 1)
            ]
            cumulative = [sum(counts[: bucket + 1]) for bucket in range(len(counts))]
            buckets = [
                (_le(edge), count) for edge, count in zip(figure.value_edges, cumulative, strict=False)
            ]
            buckets.append(("+Inf", cumulative[-1]))
            predicted_value.add_metric(model, buckets, figure.tallies["sum"][1])
        else:
            shown = figure.model_id in names
            for key, (count, _) in sorted(figure.tallies.items()):
                label = class_label(key, classes.get(figure.model_id, [])) if shown else key
                predicted_class.add_metric([*model, label], count)
        if figure.psi_max is not None:
            psi_max.add_metric(model, figure.psi_max)
    errors = CounterMetricFamily(
        "mlservice_monitoring_errors",
        "Failures of drift monitoring (sampling a prediction, keeping a training reference): logged, "
        "never failing the job.",
    )
    errors.add_metric([], sum(value for _, value in series.get(MONITORING_ERRORS, [])))
    return [predicted_class, predicted_value, psi_max, errors, *_process_families()]


def _process_families() -> list[Metric]:
    """CPU and memory of every web and worker process heard from lately
    (monitoring.processes), whichever machine it runs on; the answering process
    with its figures of this scrape."""
    labels = ["role", "host", "pid"]
    cpu = CounterMetricFamily(
        "mlservice_process_cpu_seconds",
        "CPU time (user + system) used by a web or worker process.",
        labels=labels,
    )
    memory = GaugeMetricFamily(
        "mlservice_process_resident_memory_bytes",
        "Resident memory of a web or worker process.",
        labels=labels,
    )
    for sample in live_processes():
        values = [sample.role, sample.host, str(sample.pid)]
        cpu.add_metric(values, sample.cpu_seconds)
        memory.add_metric(values, sample.resident_bytes)
    return [cpu, memory]


def _database_families(*, private_names: bool) -> list[Metric]:
    """Eight queries whatever the size of the tables: the shared counters, the names of
    the models they mention, the jobs queued or running now (one per kind), and
    monitoring's tallies, samples and references."""
    series = selectors.counter_series()
    return (
        _jobs_families(series, private_names=private_names)
        + _histogram_families(series)
        + _ledger_and_cache_families(series)
        + _monitoring_families(series, private_names=private_names)
    )


def _broker_families() -> list[Metric]:
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
# Kept apart by whether private model names are in (a scrape with the token) or not.
_cached: dict[bool, tuple[float, list[Metric]]] = {}


def service_families(*, private_names: bool) -> list[Metric]:
    """The database and broker families, reused for METRICS_CACHE_SECONDS."""
    with _cache_lock:
        cached = _cached.get(private_names)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        started = time.monotonic()
        families: list[Metric] = []
        database_up = GaugeMetricFamily(
            "mlservice_database_metrics_up", "1 when the service metrics could be read from the database."
        )
        try:
            families += _database_families(private_names=private_names)
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
        _cached[private_names] = (time.monotonic() + settings.METRICS_CACHE_SECONDS, families)
        return families


class _ServiceCollector:
    def __init__(self, *, private_names: bool):
        self.private_names = private_names

    def collect(self) -> Iterable[Metric]:
        return service_families(private_names=self.private_names)


class _ProcessCollector:
    """This process's own registry (HTTP metrics, plus the process and Python
    collectors) when there is no multiprocess folder."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def scrape_registry(*, private_names: bool) -> CollectorRegistry:
    registry = CollectorRegistry()
    if MULTIPROCESS:
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessCollector())
    registry.register(_ServiceCollector(private_names=private_names))
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


def _refused(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain")


@never_cache
@require_safe
def metrics_view(request):
    token = settings.METRICS_TOKEN
    if token:
        if not hmac.compare_digest(_bearer_token(request).encode(), token.encode()):
            response = _refused(401, "A valid bearer token is required.")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not settings.METRICS_LOOPBACK_WITHOUT_TOKEN:
        return _refused(403, "Metrics need a token: set METRICS_TOKEN and scrape with it as a bearer token.")
    elif not _is_loopback(request.META.get("REMOTE_ADDR", "")):
        return _refused(
            403, "Metrics are served to loopback clients only; set METRICS_TOKEN to scrape from elsewhere."
        )
    registry = scrape_registry(private_names=bool(token))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
