"""Sizes as people read them, one way everywhere (forms, refusals, pages): binary
units (1 MB = 1024 × 1024 bytes) with one decimal, as Django's filesizeformat shows."""


def human_size(size: int | float) -> str:
    if size < 1024:
        return f"{int(size):,} bytes"
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            return f"{size:,.1f} {unit}"
    raise AssertionError("unreachable")
