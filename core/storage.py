"""How the service stores and reads its files: the one module that talks to Django's
storage API (``STORAGES["default"]``).

Every stored file — dataset uploads, model artifacts, prediction inputs and results,
imported model files — has a *name* (``datasets/7/ab12….csv``) and lives in the
default storage: local disk (``FileSystemStorage`` under MEDIA_ROOT, the default) or an
S3-compatible bucket (django-storages, ``STORAGE_URL``). The web and the workers then
share no disk.

The libraries that read and write these files (pandas, joblib, CatBoost, our CSV
engine) want local paths. So:

- ``StagedFile`` is a local path to write a file to before it is stored: on local disk
  the final place itself (nothing is copied, as before storage was pluggable); on S3 a
  temporary file, uploaded by ``store()`` (multipart when large) and removed.
- ``local_copy(name)`` gives a local path to read a stored file from: on local disk the
  file itself; on S3 a temporary download, streamed to disk and removed afterwards. A
  large file is never held in memory.

A missing file raises ``StoredFileMissing`` (a FileNotFoundError); the storage failing
(unreachable, refusing) raises ``StorageUnavailable`` (503, naming the storage) and is
counted for ``/metrics``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.utils.module_loading import import_string

from core.api import UNAVAILABLE_RETRY_AFTER
from core.counters import record_storage_error
from core.errors import ServiceError
from core.files import make_shared_folder, share_file

logger = logging.getLogger(__name__)

COPY_CHUNK_BYTES = 1024 * 1024
# A local copy of a file on S3 is downloaded straight into its temporary file in
# parallel ranged GETs of this size (boto3's default is 8 MB): 217 MB took 4.3 s in 27
# requests, through django-storages' own temporary file, and ~1 s in 4 against moto
# (docs/PERFORMANCE.md, "1,000,000-row CSV on S3").
S3_DOWNLOAD_CHUNK_BYTES = 64 * 1024 * 1024


class StorageUnavailable(ServiceError):
    status_code = 503

    def __init__(self, detail: str = "", errors: dict[str, list[str]] | None = None, **extra):
        detail = detail or "The file storage is unavailable; nothing was charged. Try again later."
        extra.setdefault("retry_after", UNAVAILABLE_RETRY_AFTER)  # as for the database and Redis
        super().__init__(detail, errors or {"storage": ["The file storage is unavailable."]}, **extra)


class StoredFileMissing(FileNotFoundError):
    """A stored file that should be there is not (deleted, expired, lost)."""


def file_storage() -> Storage:
    """The storage every stored file lives in (resolved per call: tests override it)."""
    return storages["default"]


def storage_kind() -> str:
    return "local" if _local_path(file_storage(), "probe") is not None else "s3"


def _local_path(storage: Storage, name: str) -> Path | None:
    try:
        return Path(storage.path(name))
    except NotImplementedError:  # not on this machine's disk (S3)
        return None


@contextmanager
def _storage_errors(what: str, name: str) -> Iterator[None]:
    """A storage's own exceptions as ours: missing → StoredFileMissing, anything else →
    StorageUnavailable (logged and counted)."""
    try:
        yield
    except (StoredFileMissing, ServiceError):
        raise
    except FileNotFoundError:
        raise StoredFileMissing(f"The stored file {name} is missing.") from None
    except Exception as error:
        logger.warning("storage %s of %s failed: %s: %s", what, name, type(error).__name__, error)
        record_storage_error()
        raise StorageUnavailable() from error


class StagedFile:
    """A local file to be stored under ``name``: write to ``path``, then ``store()``;
    ``discard()`` removes whatever is left (the local file, and the stored object if
    it was stored already)."""

    def __init__(self, name: str, *, suffix: str = "") -> None:
        self.name = name
        self.stored_name = ""
        final = _local_path(file_storage(), name)
        self.is_final = final is not None
        if final is not None:
            make_shared_folder(final.parent)
            self.path = final
        else:
            handle, temporary = tempfile.mkstemp(
                dir=settings.FILE_UPLOAD_TEMP_DIR, prefix="mlservice-", suffix=suffix or Path(name).suffix
            )
            os.close(handle)
            self.path = Path(temporary)

    def store(self, name: str | None = None) -> str:
        """Store the written file under ``name`` (default: the name it was staged for)
        and return the name. On local disk a rename, else an upload."""
        name = name or self.name
        if self.is_final:
            if name != self.name:
                target = Path(file_storage().path(name))
                make_shared_folder(target.parent)
                os.replace(self.path, target)
                self.path, self.name = target, name
            share_file(self.path)
        else:
            with _storage_errors("upload", name), open(self.path, "rb") as handle:
                saved = file_storage().save(name, File(handle, name=Path(name).name))
            if saved != name:  # a bucket configured not to overwrite renamed it
                delete_stored_file(saved)
                raise StorageUnavailable("The file storage renamed a new file; check AWS_S3_FILE_OVERWRITE.")
            self.path.unlink(missing_ok=True)
        self.stored_name = name
        return name

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        if self.stored_name and not self.is_final:
            delete_stored_file(self.stored_name)
        self.stored_name = ""

    def release(self) -> None:
        """Forget the local copy of a stored file (S3: the temporary file goes)."""
        if not self.is_final:
            self.path.unlink(missing_ok=True)


@contextmanager
def local_copy(name: str) -> Iterator[Path]:
    """A local path holding the stored file ``name`` for the block: the file itself on
    local disk, a temporary download (removed afterwards) otherwise."""
    storage = file_storage()
    if not name:
        raise StoredFileMissing("No file was stored.")
    path = _local_path(storage, name)
    if path is not None:
        if not path.exists():
            raise StoredFileMissing(f"The stored file {name} is missing.")
        yield path
        return
    handle, temporary = tempfile.mkstemp(
        dir=settings.FILE_UPLOAD_TEMP_DIR, prefix="mlservice-", suffix=Path(name).suffix
    )
    try:
        with (
            os.fdopen(handle, "wb") as output,
            _storage_errors("download", name),
            storage.open(name, "rb") as source,
        ):
            _download(storage, source, output)
        yield Path(temporary)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _download(storage: Storage, source: File, output: IO[bytes]) -> None:
    """Copy an opened stored file into ``output``. An S3 object (django-storages'
    S3File, not yet read) is downloaded by boto3 straight into it: reading the S3File
    would first download the whole object into a temporary file of its own."""
    obj = getattr(source, "obj", None)
    if obj is None or getattr(storage, "gzip", False) or storage.get_object_parameters(source.name):
        shutil.copyfileobj(source, output, COPY_CHUNK_BYTES)
        return
    from boto3.s3.transfer import TransferConfig  # only with the S3 backend

    config = TransferConfig(
        multipart_threshold=S3_DOWNLOAD_CHUNK_BYTES,
        multipart_chunksize=S3_DOWNLOAD_CHUNK_BYTES,
        use_threads=getattr(storage, "use_threads", True),
    )
    obj.download_fileobj(output, Config=config)


def open_stored_file(name: str) -> IO[bytes]:
    """The stored file opened for reading (a stream the caller closes, e.g. a
    FileResponse)."""
    if not name:
        raise StoredFileMissing("No file was stored.")
    with _storage_errors("open", name):
        return file_storage().open(name, "rb")


def stored_file_exists(name: str) -> bool:
    if not name:
        return False
    with _storage_errors("exists", name):
        return file_storage().exists(name)


def delete_stored_file(name: str) -> bool:
    """Delete a stored file; True when it is gone (a missing one is fine). A failure is
    logged and counted, never raised: what is left behind is an orphan for the caller
    to try again (retention) or to leave (a deleted object's file)."""
    if not name:
        return True
    try:
        with _storage_errors("delete", name):
            file_storage().delete(name)
    except StoredFileMissing:
        return True
    except (StorageUnavailable, OSError):
        logger.warning("could not delete the stored file %s", name)
        return False
    return True


def presigned_download_url(name: str, *, filename: str, content_type: str) -> str | None:
    """A short-lived URL the client downloads ``name`` from directly, when
    STORAGE_PRESIGNED_DOWNLOADS is on and the storage is S3; else None (the file is
    streamed through Django)."""
    if not settings.STORAGE_PRESIGNED_DOWNLOADS or storage_kind() == "local":
        return None
    parameters = {
        "ResponseContentDisposition": f'attachment; filename="{filename}"',
        "ResponseContentType": content_type,
    }
    with _storage_errors("sign", name):
        return file_storage().url(name, parameters=parameters, expire=settings.STORAGE_PRESIGNED_SECONDS)


_probes: dict[tuple, Storage] = {}


def storage_check(*, timeout: int) -> dict:
    """For /healthz: can the storage be reached? On S3 one listing of the bucket's top
    level with a client that gives up after ``timeout`` seconds and does not retry.
    Raises on failure."""
    storage = file_storage()
    if _local_path(storage, "probe") is not None:
        location = Path(storage.path(""))
        if location.exists() and not os.access(location, os.W_OK):
            raise PermissionError(f"{location} is not writable")
        return {"kind": "local"}
    config = settings.STORAGES["default"]
    key = (config["BACKEND"], repr(sorted(config.get("OPTIONS", {}).items())), timeout)
    probe = _probes.get(key)
    if probe is None:
        from botocore.config import Config  # only with the S3 backend

        options = dict(config.get("OPTIONS", {}))
        base = options.get("client_config") or Config()
        options["client_config"] = base.merge(
            Config(
                connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1, "mode": "standard"}
            )
        )
        probe = _probes[key] = import_string(config["BACKEND"])(**options)
    probe.listdir("")
    return {"kind": "s3"}
