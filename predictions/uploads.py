"""Streaming a prediction CSV straight to its place in storage (core.storage).

Django's default handlers would spool a large upload to a temporary file first and we
would then copy it (and read it once more to hash it). This handler writes each chunk
where the job will read it (local disk), or to the one local file that ``store()``
uploads once the CSV is checked (S3), hashes it on the way (the SHA-256 is the Idempotency-Key
fingerprint of a CSV request) and stops at PREDICTION_MAX_BYTES with a 413, so an
oversized body never fills the disk.

Whoever installs the handler owns cleanup: ``discard_unclaimed()`` removes every file
it wrote that no prediction adopted (a refused, replayed or interrupted request).
"""

from __future__ import annotations

import hashlib
import os
import secrets

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from core.errors import PayloadTooLarge
from core.storage import StagedFile
from core.units import human_size

FILE_FIELD = "file"
# Room for the multipart envelope and the small form fields around the file.
ENVELOPE_BYTES = 64 * 1024


def new_token() -> str:
    return secrets.token_hex(16)


def input_relative_path(*, owner_id: int, token: str) -> str:
    return f"predictions/{owner_id}/{token}-input.csv"


def result_relative_path(*, owner_id: int, token: str) -> str:
    return f"predictions/{owner_id}/{token}-result.csv"


def too_large_error() -> PayloadTooLarge:
    limit = human_size(settings.PREDICTION_MAX_BYTES)
    message = f"the file is larger than the limit of {limit}"
    return PayloadTooLarge(f"The file is too large: the limit is {limit}.", {FILE_FIELD: [message]})


class StoredCsv(UploadedFile):
    """An uploaded CSV for ``relative_path`` in storage: read at ``path`` (a local
    file); ``store()`` puts it in storage (on local disk it is there already)."""

    def __init__(self, *, staged: StagedFile, token: str, name: str, size: int, sha256: str):
        # Closed with the request (Django closes uploaded files) or by discard().
        handle = open(staged.path, "rb")  # noqa: SIM115
        super().__init__(file=handle, name=name, content_type="text/csv", size=size)
        self.staged = staged
        self.path = staged.path
        self.relative_path = staged.name
        self.token = token
        self.sha256 = sha256

    def temporary_file_path(self) -> str:
        return str(self.path)

    def store(self) -> None:
        """Store the checked CSV; StorageUnavailable when the storage fails."""
        self.staged.store()

    def discard(self) -> None:
        self.close()
        self.staged.discard()


class PredictionUploadHandler(FileUploadHandler):
    """Takes the one ``file`` field of a prediction request; other file fields are
    skipped and remembered so the view can refuse them as unknown fields."""

    chunk_size = 1024 * 1024

    def __init__(self, request=None, *, field_name: str = FILE_FIELD):
        super().__init__(request)
        # (Not ``field_name``: the base class sets that to each incoming part's name.)
        self.accepted_field = field_name
        # The relative path of the file a prediction took over (kept by discard_unclaimed).
        self.adopted = ""
        self.stored: list[StoredCsv] = []
        self.skipped_fields: list[str] = []
        self._handle = None
        self._staged: StagedFile | None = None
        self._token = ""
        self._digest = None
        self._size = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # Refuse an oversized body before reading a byte of it.
        if content_length and content_length > settings.PREDICTION_MAX_BYTES + ENVELOPE_BYTES:
            raise too_large_error()
        return None

    def new_file(
        self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None
    ):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        user = getattr(self.request, "user", None)
        if (
            field_name != self.accepted_field
            or self._staged is not None
            or self.stored
            or not getattr(user, "is_authenticated", False)
        ):
            self.skipped_fields.append(field_name)
            raise SkipFile()
        self._token = new_token()
        self._staged = StagedFile(input_relative_path(owner_id=user.pk, token=self._token))
        self._handle = open(self._staged.path, "wb")  # noqa: SIM115 -- written across calls, closed in file_complete
        self._digest = hashlib.sha256()
        self._size = 0

    def receive_data_chunk(self, raw_data, start):
        if self._handle is None:
            return raw_data
        self._size += len(raw_data)
        if self._size > settings.PREDICTION_MAX_BYTES:
            self._abandon()
            raise too_large_error()
        self._handle.write(raw_data)
        self._digest.update(raw_data)
        return None

    def file_complete(self, file_size):
        if self._handle is None:
            return None
        self._handle.close()
        self._handle = None
        stored = StoredCsv(
            staged=self._staged,
            token=self._token,
            name=os.path.basename(self.file_name or "upload.csv")[:255],
            size=self._size,
            sha256=self._digest.hexdigest(),
        )
        self.stored.append(stored)
        return stored

    def upload_interrupted(self):
        self._abandon()

    def _abandon(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._staged is not None and not any(stored.staged is self._staged for stored in self.stored):
            self._staged.discard()

    def discard_unclaimed(self) -> None:
        """Remove the files this request wrote, except the one a prediction adopted
        (``adopted``, set by the view once the prediction exists)."""
        self._abandon()
        for stored in self.stored:
            if stored.relative_path != self.adopted:
                stored.discard()
