"""Model files sent to be imported: what they are, judged by their bytes, and whether
they are safe to load. Cheap enough for the request that receives the file (it reads a
few header bytes and, for skops, the zip's table of contents and its schema.json; it
never builds an object).

Accepted: a CatBoost model saved with ``save_model`` (``.cbm``, starting with the bytes
``CBM1``) and a scikit-learn estimator or pipeline saved with skops (a zip holding
``schema.json``) whose every type skops does not trust by itself is on
TRUSTED_SKOPS_TYPES. A pickle or a joblib file is refused, whatever its name: loading
one runs whatever code it holds, and this service never unpickles bytes it did not
write itself.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import skops.io

from .errors import ModelFileError

SKOPS = "skops"
CATBOOST = "catboost"
FORMAT_NAMES = {SKOPS: "scikit-learn (skops)", CATBOOST: "CatBoost (.cbm)"}

CATBOOST_MAGIC = b"CBM1"
ZIP_MAGIC = b"PK\x03\x04"

# Types skops does not trust on its own that a scikit-learn model trained the usual way
# holds (every estimator of this service's catalog, dumped with skops, needs only
# these). Anything else — a class of the sender's own, a function such as
# ``builtins.eval`` — is refused by name.
TRUSTED_SKOPS_TYPES = frozenset(
    {
        "numpy.dtype",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
    }
)

# How much a skops zip may unpack to, as a multiple of the largest file accepted: a
# zip bomb (a few kilobytes that inflate to gigabytes) is refused before it is read.
MAX_UNPACK_RATIO = 10

# The start of a pickle (protocol 2 and later) and of the compressed streams joblib
# writes (zlib, gzip, bz2, xz, lzma, lz4, and joblib's own old "ZF" format).
_PICKLE_PROTOCOL = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
_COMPRESSED = (
    b"x\x01",
    b"x^",
    b"x\x9c",
    b"x\xda",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"\x5d\x00\x00",
    b"\x04\x22\x4d\x18",
    b"ZF0x",
)
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav", ".pck", ".p")

WHAT_TO_SEND = (
    "Send a scikit-learn estimator or pipeline saved with skops "
    "(skops.io.dump(model, 'model.skops')) or a CatBoost model saved with "
    "model.save_model('model.cbm')."
)
PICKLE_REFUSED = (
    "This is a pickle or joblib file, and it is refused: loading a pickle runs whatever code "
    "it contains, so this service never unpickles a file it did not write itself. " + WHAT_TO_SEND
)


@dataclass(frozen=True)
class ModelFile:
    """A file that may be loaded: its format and, for skops, the types to trust."""

    format: str
    trusted_types: list[str] = field(default_factory=list)

    @property
    def format_name(self) -> str:
        return FORMAT_NAMES[self.format]


def _refuse(message: str) -> ModelFileError:
    return ModelFileError(message, {"file": [message]})


def sniff_model_file(path: str | os.PathLike[str], *, filename: str = "", max_bytes: int) -> ModelFile:
    """The format of the file at ``path`` (sent as ``filename``), or ModelFileError
    saying why it is refused and what to send instead."""
    size = os.path.getsize(path)
    if size == 0:
        raise _refuse("The file is empty. " + WHAT_TO_SEND)
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(CATBOOST_MAGIC):
        return ModelFile(format=CATBOOST)
    if head.startswith(ZIP_MAGIC):
        return ModelFile(format=SKOPS, trusted_types=check_skops_file(path, max_bytes=max_bytes))
    if head.startswith(_PICKLE_PROTOCOL + _COMPRESSED) or Path(filename).suffix.lower() in PICKLE_SUFFIXES:
        raise _refuse(PICKLE_REFUSED)
    raise _refuse("The file is neither a skops file nor a CatBoost .cbm model. " + WHAT_TO_SEND)


def check_skops_file(source: str | os.PathLike[str] | bytes, *, max_bytes: int) -> list[str]:
    """The types of a skops file that skops does not trust by itself, all of them on
    TRUSTED_SKOPS_TYPES; ModelFileError naming every other one (or saying why the zip
    is not a skops file). ``source`` is a path or the file's bytes. Reads the zip's
    directory and schema.json, builds nothing."""
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as archive:
            entries = archive.infolist()
            names = {entry.filename for entry in entries}
            unpacked = sum(entry.file_size for entry in entries)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _refuse(
            "The file is a damaged zip archive, not a readable skops file. " + WHAT_TO_SEND
        ) from None
    if "schema.json" not in names:
        raise _refuse(
            "The file is a zip archive but not a skops file (it has no schema.json). " + WHAT_TO_SEND
        )
    limit = max_bytes * MAX_UNPACK_RATIO
    if unpacked > limit:
        raise _refuse(
            f"The skops file would unpack to {unpacked:,} bytes, more than {MAX_UNPACK_RATIO} times the "
            f"largest file accepted ({limit:,} bytes)."
        )
    try:
        if isinstance(source, bytes):
            untrusted = skops.io.get_untrusted_types(data=source)
        else:
            untrusted = skops.io.get_untrusted_types(file=source)
    except Exception as error:  # a malformed schema.json: skops' own words, never a traceback
        raise _refuse(
            f"The skops file cannot be read ({type(error).__name__}: {str(error)[:200]})."
        ) from None
    refused = sorted(name for name in untrusted if name not in TRUSTED_SKOPS_TYPES)
    if refused:
        listed = ", ".join(refused[:20]) + (f" and {len(refused) - 20} more" if len(refused) > 20 else "")
        raise _refuse(
            f"The skops file holds types this service does not load: {listed}. Only scikit-learn "
            "estimators and pipelines (with numpy and scipy data) can be imported; a custom class or "
            "function would run code of the sender's when loaded."
        )
    return sorted(untrusted)
