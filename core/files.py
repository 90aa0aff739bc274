"""Files under MEDIA_ROOT that the web server and the workers share.

They may run as different users (of one group): the web writes uploads the workers
read, the workers write results and models the web serves. Every such file and folder
gets the one mode of ``MEDIA_FILE_MODE`` (Django's ``FILE_UPLOAD_PERMISSIONS``; folders
``FILE_UPLOAD_DIRECTORY_PERMISSIONS``), whatever the process's umask, through these
helpers. The ML engine takes the mode as an argument (it imports no Django).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings


def shared_file_mode() -> int:
    return settings.FILE_UPLOAD_PERMISSIONS


def share_file(path: str | os.PathLike[str]) -> None:
    """Give a file this process wrote the shared mode."""
    os.chmod(path, settings.FILE_UPLOAD_PERMISSIONS)


def make_shared_folder(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` and its missing parents, each with the shared folder mode."""
    folder = Path(path)
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        try:
            created.mkdir()
        except FileExistsError:
            continue  # another process made it first, with the same mode
        os.chmod(created, settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS)
    return Path(path)
