"""mlservice settings: one module, driven by environment variables (see README,
"Configuration"). Every variable is optional; a bad value fails loudly at start-up."""

from __future__ import annotations

import os
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """A string from ``NAME``, or from the file named by ``NAME_FILE`` (for secrets
    mounted as files), or ``default``."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = env_str(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_decimal(name: str, default: str) -> Decimal:
    value = env_str(name, "").strip() or default
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a decimal number, got {value!r}") from None
    if not number.is_finite() or number < 0:
        raise ImproperlyConfigured(f"{name} must be a finite number ≥ 0, got {value!r}")
    return number


def env_file_mode(name: str, default: int) -> int:
    value = env_str(name, "").strip()
    if not value:
        return default
    try:
        mode = int(value, 8)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an octal file mode such as 644, got {value!r}") from None
    if not 0o600 <= mode <= 0o777 or mode & 0o600 != 0o600:
        raise ImproperlyConfigured(
            f"{name} must be an octal mode from 600 to 777 (owner read and write), got {value!r}"
        )
    return mode


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


# Everything the service writes at run time (SQLite, uploads, artifacts, the generated
# secret key) lives under var/, which git ignores.
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

# DEBUG is on by default so the README's first command works on a fresh clone; a
# production deployment sets DEBUG=0 and must then provide SECRET_KEY.
DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    secret_file = VAR_DIR / "secret_key"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(50))
        secret_file.chmod(0o600)
    SECRET_KEY = secret_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    # Before staticfiles so runserver does not serve static files itself.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_q",
    "core",
    "accounts",
    "billing",
    "mlmodels",
    "predictions",
    "webhooks",
    "monitoring",
    "operations",
]

MIDDLEWARE = [
    # First, so the request id, the log line and the latency cover every other layer.
    "core.middleware.RequestContextMiddleware",
    "core.middleware.RefuseNulCharactersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Refuses an oversized body by its Content-Length before the CSRF check reads it.
    "core.middleware.RefuseOversizedBodyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.ApiJsonErrorsMiddleware",
    # After the response: this web process's CPU and memory for /metrics (every 15 s at most).
    "monitoring.middleware.ProcessReportMiddleware",
]

ROOT_URLCONF = "mlservice.urls"
WSGI_APPLICATION = "mlservice.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "billing.context_processors.balance",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        # An unreachable database fails a request (and /healthz) within seconds instead
        # of waiting for the operating system's TCP timeout.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=1)
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
        }
    }
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # A web server and a qcluster write to one file. WAL lets readers run beside
            # the writer; IMMEDIATE takes the write lock at BEGIN, so two writers queue on
            # the busy timeout instead of failing with "database is locked" when a read
            # transaction tries to upgrade to a write.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Cache and broker -----------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Apart from other deployments (and test runs) sharing the same Redis database.
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", ""),
        }
    }
else:
    # The database cache is shared by every process (web workers and qcluster), which
    # the login throttle and DRF throttles need; local memory would count per process.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "mlservice_cache",
        }
    }

# Seconds a task may run before django-q kills it.
TASK_TIMEOUT = env_int("TASK_TIMEOUT", 1800, minimum=10)
Q_CLUSTER = {
    # Processes that share a broker and a queue name share the work.
    "name": env_str("QUEUE_NAME", "mlservice"),
    "workers": env_int("WORKERS", 2, minimum=1),
    "timeout": TASK_TIMEOUT,
    # retry must exceed timeout, or the broker hands a still-running task to a second
    # worker; our tasks are idempotent anyway, but this keeps them from racing.
    "retry": TASK_TIMEOUT + 120,
    # A task that fails is not retried by django-q: our tasks record the failure and
    # refund themselves; a crash mid-task is handled by the sweep.
    "max_attempts": 1,
    # Successful tasks are not stored: the jobs' own rows record their outcome, and
    # django-q's monitor otherwise re-reads every stored success after each task
    # (measured: 35 → 19 ms of CPU per prediction). Failed tasks are still kept.
    "save_limit": -1,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.1,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Auth ----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Argon2id first: Django's PBKDF2 (1,000,000 iterations) costs about 1.9 s a hash on a
# small machine, Argon2id about 0.05-0.3 s, and it is memory-hard against GPU guessing.
# PBKDF2 stays so passwords hashed before verify; Django re-hashes them with Argon2id
# at their owner's next log-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
# Failed password checks allowed per username at one client address within the window
# (an address: 4 times as many over all usernames), on every form and endpoint that
# checks a password, before that pair (or address) is refused. Never per username alone.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 300, minimum=1)

# --- Money ---------------------------------------------------------------------------
SIGNUP_BONUS = env_decimal("SIGNUP_BONUS", "500")
BILLING_SELF_TOPUP = env_bool("BILLING_SELF_TOPUP", True)
TOPUP_MAX_AMOUNT = env_decimal("TOPUP_MAX_AMOUNT", "10000")
# A retry with the same Idempotency-Key is answered from the store for this long.
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 48, minimum=1)
DEFAULT_PRICE_PER_ROW = env_decimal("DEFAULT_PRICE_PER_ROW", "0.01")

# --- Uploads and limits ----------------------------------------------------------------
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media"))).resolve()
MEDIA_URL = "/media/"  # never served directly: downloads go through views that check access
DATASET_MAX_BYTES = env_int("DATASET_MAX_BYTES", 50 * 1024 * 1024, minimum=1)
DATASET_MAX_ROWS = env_int("DATASET_MAX_ROWS", 1_000_000, minimum=1)
DATASET_MAX_COLUMNS = env_int("DATASET_MAX_COLUMNS", 500, minimum=2)
# The largest model file one may import (a skops or CatBoost .cbm file); a skops zip
# may unpack to at most ten times this (mlmodels.ml.model_files).
MODEL_IMPORT_MAX_BYTES = env_int("MODEL_IMPORT_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)
PREDICTION_MAX_BYTES = env_int("PREDICTION_MAX_BYTES", 500 * 1024 * 1024, minimum=1)
PREDICTION_MAX_ROWS = env_int("PREDICTION_MAX_ROWS", 2_000_000, minimum=1)
PREDICTION_MAX_JSON_ROWS = env_int("PREDICTION_MAX_JSON_ROWS", 10_000, minimum=1)
# Columns in one prediction's input (CSV header or JSON keys): room for a dataset's
# DATASET_MAX_COLUMNS plus ids and notes the model ignores.
PREDICTION_MAX_COLUMNS = env_int("PREDICTION_MAX_COLUMNS", 1000, minimum=1)
# Request bodies above this are refused outright (uploads stream to temp files).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 20 * 1024 * 1024, minimum=1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# The one mode of every file under MEDIA_ROOT (uploads, prediction inputs and results,
# model artifacts), whichever process writes it: the web and the workers may run as
# different users of one group (core.files applies it). Folders get the same, plus
# "search" wherever "read" is granted (644 → 755, 640 → 750).
MEDIA_FILE_MODE = env_file_mode("MEDIA_FILE_MODE", 0o644)
FILE_UPLOAD_PERMISSIONS = MEDIA_FILE_MODE
FILE_UPLOAD_DIRECTORY_PERMISSIONS = MEDIA_FILE_MODE | (MEDIA_FILE_MODE & 0o444) >> 2
FILE_UPLOAD_TEMP_DIR = None
# Loaded pipelines each worker process keeps in memory (LRU, keyed by artifact hash).
MODEL_CACHE_SIZE = env_int("MODEL_CACHE_SIZE", 8, minimum=1)
# Rows scored per chunk of a CSV prediction: bounds worker memory whatever the file size.
PREDICTION_CHUNK_ROWS = env_int("PREDICTION_CHUNK_ROWS", 100_000, minimum=100)
# Threads that check (in the request) and score (in the worker) one CSV prediction's
# chunks side by side (the rows in flight stay at PREDICTION_CHUNK_ROWS: each thread
# takes a share). One per core by default.
PREDICTION_SCORING_THREADS = env_int("PREDICTION_SCORING_THREADS", min(os.cpu_count() or 1, 4), minimum=1)
# Input drift (monitoring/): rows of recent predictions kept per model (a uniform
# sample, Algorithm R), and how many a drift figure needs before it means anything.
DRIFT_SAMPLE_ROWS = env_int("DRIFT_SAMPLE_ROWS", 2000, minimum=10)
DRIFT_MIN_ROWS = env_int("DRIFT_MIN_ROWS", 200, minimum=1)
# JSON predictions up to this many rows keep their results inline in the database.
PREDICTION_INLINE_ROWS = env_int("PREDICTION_INLINE_ROWS", 1000, minimum=1)
# A worker that takes a small JSON prediction scores up to this many queued small JSON
# predictions of the same model in one call (1: each alone).
PREDICTION_BATCH_JOBS = env_int("PREDICTION_BATCH_JOBS", 16, minimum=1)
# A job still queued this long after it was enqueued is assumed lost (Redis has no
# delivery receipts) and is enqueued again by the sweep.
QUEUED_STALE_SECONDS = env_int("QUEUED_STALE_SECONDS", 300, minimum=5)
# Input and result files of a prediction are deleted this many days after it finished
# (the prediction, its inline results and its ledger entries stay); 0 keeps them forever.
PREDICTION_FILE_RETENTION_DAYS = env_int("PREDICTION_FILE_RETENTION_DAYS", 30, minimum=0)
# Job budgets (issue 13). Queued + running jobs one user may have at once, over every
# kind; beyond it a submission answers 429 and is not charged.
MAX_ACTIVE_JOBS_PER_USER = env_int("MAX_ACTIVE_JOBS_PER_USER", 20, minimum=1)
# Requests one web process lets wait for a job at once (Prefer: wait), and requests one
# user may have waiting at once (over every process with Redis): beyond either the
# request answers at once (202) and the client polls, so waiting never takes every
# thread and /healthz and other users are always served.
# GUNICORN_THREADS: deploy/gunicorn.conf.py sets it (16 unless given) for its workers.
PREFER_WAIT_MAX_PER_PROCESS = env_int(
    "PREFER_WAIT_MAX_PER_PROCESS", max(1, env_int("GUNICORN_THREADS", 16, minimum=1) - 1), minimum=1
)
PREFER_WAIT_MAX_PER_USER = env_int("PREFER_WAIT_MAX_PER_USER", 8, minimum=1)
# POST models/{id}/invocations waits this long for its prediction (as Prefer: wait=N),
# then answers 202 with the prediction to poll. At most 60, like Prefer: wait.
INVOCATIONS_WAIT_SECONDS = min(env_int("INVOCATIONS_WAIT_SECONDS", 30, minimum=1), 60)
# MLflow tracking (mlmodels.services.tracking): with a tracking server's URL, every model
# that becomes ready and every experiment that succeeds is logged there as a run, by a
# task of its own after the job committed; a failure is logged and counted, never fatal.
MLFLOW_TRACKING_URI = env_str("MLFLOW_TRACKING_URI").strip()
MLFLOW_EXPERIMENT_NAME = env_str("MLFLOW_EXPERIMENT_NAME", "mlservice").strip() or "mlservice"
# Seconds one call to the tracking server may take (connect, or wait for an answer).
MLFLOW_TIMEOUT_SECONDS = env_int("MLFLOW_TIMEOUT_SECONDS", 10, minimum=1)
# Webhooks (webhooks/): URLs must be https and resolve to public addresses only. Both
# switches exist for tests and closed networks; never turn them on for a public service.
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", False)
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
# A training (or an experiment's trial) one-hot encodes categorical columns densely:
# rows x encoded columns above this are refused before the charge (CatBoost, which
# encodes nothing, counts one column per feature). 50,000,000 float64 cells = 400 MB.
TRAINING_MAX_ENCODED_CELLS = env_int("TRAINING_MAX_ENCODED_CELLS", 50_000_000, minimum=1000)
# Memory (MB) a job may allocate on top of what its worker process holds when it starts
# (RLIMIT_DATA, Linux); beyond it the job fails with a readable error. 0: no limit.
JOB_MEMORY_LIMIT_MB = env_int("JOB_MEMORY_LIMIT_MB", 4096, minimum=0)
# How often the sweep runs (minutes).
SWEEP_INTERVAL_MINUTES = env_int("SWEEP_INTERVAL_MINUTES", 1, minimum=1)

# --- Static files ------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]


def storage_from_environment() -> dict:
    """STORAGES["default"]: local disk under MEDIA_ROOT, unless ``STORAGE_URL`` or
    ``AWS_STORAGE_BUCKET_NAME`` names an S3-compatible bucket (django-storages).

    ``STORAGE_URL`` is ``s3://BUCKET[/PREFIX][?endpoint_url=URL&region=NAME&addressing_style=path|virtual]``;
    the ``AWS_*`` variables fill in what it leaves out (``AWS_S3_ENDPOINT_URL``,
    ``AWS_S3_REGION_NAME``, ``AWS_LOCATION``) and always give the keys
    (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, each also as ``*_FILE``; without
    them boto3's own chain: instance role, ``~/.aws``)."""
    url = env_str("STORAGE_URL").strip()
    bucket = env_str("AWS_STORAGE_BUCKET_NAME").strip()
    if not url and not bucket:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    options = {
        "endpoint_url": env_str("AWS_S3_ENDPOINT_URL").strip() or None,
        "region_name": env_str("AWS_S3_REGION_NAME").strip() or None,
        "location": env_str("AWS_LOCATION").strip().strip("/"),
        "addressing_style": env_str("AWS_S3_ADDRESSING_STYLE").strip() or None,
    }
    if url:
        import urllib.parse

        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "s3" or not parsed.hostname:
            raise ImproperlyConfigured(
                f"STORAGE_URL must look like s3://bucket/prefix?endpoint_url=…, got {url!r}"
            )
        known = {"endpoint_url", "region", "addressing_style"}
        query = dict(urllib.parse.parse_qsl(parsed.query))
        if set(query) - known:
            unknown = ", ".join(sorted(set(query) - known))
            raise ImproperlyConfigured(
                f"STORAGE_URL: unknown parameter(s) {unknown}; known: {', '.join(sorted(known))}"
            )
        bucket = parsed.netloc
        options["location"] = parsed.path.strip("/") or options["location"]
        options["endpoint_url"] = query.get("endpoint_url") or options["endpoint_url"]
        options["region_name"] = query.get("region") or options["region_name"]
        options["addressing_style"] = query.get("addressing_style") or options["addressing_style"]
    from botocore.config import Config

    timeout = env_int("STORAGE_TIMEOUT_SECONDS", 10, minimum=1)
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "access_key": env_str("AWS_ACCESS_KEY_ID").strip() or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY").strip() or None,
            "endpoint_url": options["endpoint_url"],
            "region_name": options["region_name"],
            "location": options["location"],
            # Files are private: downloads go through Django, or a presigned URL.
            "default_acl": None,
            "querystring_auth": True,
            # Names are unique (tokens, hashes): an existing one is overwritten, never renamed.
            "file_overwrite": True,
            # A file read through storage.open() spills to a temporary file beyond this.
            "max_memory_size": 8 * 1024 * 1024,
            # Fail within seconds when the storage is unreachable, after a few retries.
            "client_config": Config(
                connect_timeout=timeout,
                read_timeout=timeout * 3,
                retries={"max_attempts": 3, "mode": "standard"},
                s3={"addressing_style": options["addressing_style"] or "auto"},
                signature_version="s3v4",
            ),
        },
    }


STORAGES = {
    "default": storage_from_environment(),
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# With S3 storage, a download answers 302 to a URL of the bucket valid this many seconds
# instead of streaming the file through Django (the permission is checked first).
STORAGE_PRESIGNED_DOWNLOADS = env_bool("STORAGE_PRESIGNED_DOWNLOADS", False)
STORAGE_PRESIGNED_SECONDS = env_int("STORAGE_PRESIGNED_SECONDS", 300, minimum=1)
# Without collectstatic (development), whitenoise serves straight from the finders.
WHITENOISE_USE_FINDERS = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- REST API ------------------------------------------------------------------------
# Proxies in front of gunicorn that append the client's address to X-Forwarded-For (1
# behind one TLS proxy). The client is the entry this many from the end; what comes
# before it is the client's own say. 0: no proxy, REMOTE_ADDR is the client.
NUM_PROXIES = env_int("NUM_PROXIES", 0)
REST_FRAMEWORK = {
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The first class names the WWW-Authenticate header of a 401: "Token".
        "core.authentication.TokenAuthentication",  # DRF's, its lookup compiled once
        "core.authentication.BearerTokenAuthentication",  # the same token as "Bearer <key>"
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("THROTTLE_ANON", "60/min"),
        "user": env_str("THROTTLE_USER", "6000/min"),
        # Registrations per client address, the sign-up page and auth/register/ together.
        "register": env_str("THROTTLE_REGISTER", "20/hour"),
    },
}
# The API's resource groups, each with what it is for: Swagger UI groups the endpoints
# under these tags (the first part of the path after /api/v1/ names an endpoint's tag)
# and the API root /api/v1/ lists them with these descriptions.
API_RESOURCE_GROUPS = [
    {
        "name": "auth",
        "description": "Create an account (POST auth/register/) or exchange a username and "
        "password for your API token (POST auth/token/). Send the token as "
        "`Authorization: Token <key>` on every other request.",
    },
    {"name": "me", "description": "Who you are: your username, e-mail, balance and whether you are staff."},
    {
        "name": "billing",
        "description": "Your coins: the balance (billing/balance/), the ledger of every charge, "
        "refund and top-up (billing/ledger/), and adding coins (POST billing/topup/).",
    },
    {
        "name": "algorithms",
        "description": "The algorithm catalog: each algorithm's task, training price and "
        "hyperparameters with their types, ranges and defaults.",
    },
    {
        "name": "datasets",
        "description": "Upload CSV files, see their columns and kinds, and read the profile "
        "(per-column statistics and chart data).",
    },
    {
        "name": "models",
        "description": "Train a model on a dataset (paid), follow its progress, and read its "
        "metrics; the list also shows the public catalog. Lists give a summary, one model "
        "gives everything (ROC curve, residuals, confusion matrix, importances). Import a "
        "model trained elsewhere (POST models/import/), export one for MLflow "
        "(models/{id}/export/mlflow/), score with MLflow's protocol (POST models/{id}/invocations).",
    },
    {
        "name": "experiments",
        "description": "Find the best model for a dataset: many algorithms and settings tried "
        "and cross-validated, a leaderboard, the winner trained as a model version.",
    },
    {
        "name": "predictions",
        "description": "Predict one row, a list of rows or a CSV file with a ready model "
        "(paid per row and per request), follow it, download the results, cancel while queued.",
    },
]
SPECTACULAR_SETTINGS = {
    "TITLE": "mlservice API",
    "DESCRIPTION": (
        "Pay-per-use machine learning for tabular data: datasets, training, predictions.\n\n"
        "[← Back to the site](/) · [Your API token](/accounts/profile/) · "
        "[Browsable API](/api/v1/)\n\n"
        "Send `Authorization: Token <key>` (Authorize button above). Errors answer "
        '`{"detail": "...", "errors": {"field": ["message"]}}`.'
    ),
    "VERSION": "1.0.0",
    # Tags are the path's first part after /api/v1/ (auth, billing, models, ...).
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "TAGS": API_RESOURCE_GROUPS,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set that two serializers share, or that clashes by field name.
    "ENUM_NAME_OVERRIDES": {
        "WebhookEventEnum": "webhooks.models.Event",
        "WebhookDeliveryStatusEnum": "webhooks.models.WebhookDelivery.Status",
        # The jobs' status, as it was named before webhooks added a second "status".
        "StatusEnum": "predictions.models.Prediction.Status",
    },
    # Swagger UI's files come from the drf-spectacular-sidecar package (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Misc ------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = False

SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # A year of HSTS with preload, as `check --deploy` asks; lower it while trying
    # out HTTPS on a new host.
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# Content-Security-Policy of every answer with DEBUG off (Django's debug pages use
# inline scripts): scripts only from this site, never inline, no eval — our templates,
# the admin, Swagger UI (served by the split view) and DRF's browsable API have none.
# Styles allow 'unsafe-inline': our pages set progress widths and heat-map colours in
# style attributes, and so do the admin and Swagger UI. Set it empty to send none.
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    ""
    if DEBUG
    else "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
).strip()

# --- Observability: /metrics, /healthz, logs (see deploy/README.md) ----------------------
# /metrics wants "Authorization: Bearer <METRICS_TOKEN>" (METRICS_TOKEN_FILE works too).
METRICS_TOKEN = env_str("METRICS_TOKEN").strip()
# Without a token, /metrics is served to loopback clients only in development: behind a
# reverse proxy on the same host every request comes from loopback. (Private model
# names are shown only with the token.)
METRICS_LOOPBACK_WITHOUT_TOKEN = DEBUG
# Seconds a web process reuses the numbers it computed from the database for /metrics,
# so scrapes arriving together (several Prometheus servers) cost one set of queries.
METRICS_CACHE_SECONDS = env_int("METRICS_CACHE_SECONDS", 5)
# prometheus_client's multiprocess mode, for several web processes (gunicorn workers):
# each writes its HTTP metrics to files in this folder and /metrics adds them up.
# deploy/gunicorn.conf.py sets it and empties the folder when gunicorn starts.
PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
# /healthz gives up on the broker after this many seconds (Redis socket timeouts).
HEALTH_TIMEOUT_SECONDS = env_int("HEALTH_TIMEOUT_SECONDS", 2, minimum=1)
# A qcluster counts as alive while its django-q status is younger than this (django-q
# rewrites it every half second and lets it expire after 3 s; this also bounds clock skew).
HEALTH_WORKER_MAX_AGE = env_int("HEALTH_WORKER_MAX_AGE", 60, minimum=1)
# Probes and Prometheus inside the network speak plain HTTP to these two paths.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
# "json": one JSON object per line, for log collectors (the default with DEBUG off);
# "plain": readable text with the request and job ids appended (the default with DEBUG on).
LOG_FORMAT = env_str("LOG_FORMAT", "plain" if DEBUG else "json").strip().lower()
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Puts the current request id and job (kind, id, task) on every record.
    "filters": {"context": {"()": "core.logs.ContextFilter"}},
    "formatters": {
        "plain": {
            "()": "core.logs.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # runserver's request lines (at every level) carry query strings, which can hold
        # secrets; mlservice.request logs every request without them.
        "django.server": {"level": "CRITICAL"},
    },
}
