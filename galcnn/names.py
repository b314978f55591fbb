"""Names that become file or folder names: one rule for every such name.

Apply names (from the config or a catalogue's file name), results-bundle members (each part of
the path) and the weight files an exported model lists all pass through :func:`safe_name`, so
no name can climb out of its folder (``..``), hide (``.x``), or carry a shell or path character
into a file name.
"""

from __future__ import annotations

import re

#: Letters, digits, ``_``, ``-`` and ``.`` inside, never first: no ``.``/``..``, no hidden file,
#: nothing a shell or another operating system reads specially.
PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
#: The longest name accepted (most file systems allow 255 bytes per name).
MAX_LENGTH = 200


def safe_name(value, key: str) -> str:
    """``value`` when it is a plain name; else ``ValueError`` naming ``key`` and the value.

    ``key`` says where the name comes from (a config key, a bundle member, a model.json entry),
    so the message tells the user what to change.
    """
    if (
        not isinstance(value, str)
        or len(value) > MAX_LENGTH
        or not PLAIN_NAME.fullmatch(value)
        or value.endswith(".")  # Windows drops a trailing dot: 'a.' and 'a' would be one file
    ):
        raise ValueError(
            f"{key} = {value!r} is not a plain name: use letters, digits, '_', '-' and '.' "
            f"(not first or last), at most {MAX_LENGTH} characters; it becomes a file or folder name"
        )
    return value


def safe_relative_path(value, key: str) -> str:
    """A POSIX relative path whose every part is a :func:`safe_name` (``results/x/y.parquet``)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} = {value!r} is not a plain relative path")
    parts = value.split("/")
    try:
        for part in parts:
            safe_name(part, key)
    except ValueError:
        raise ValueError(
            f"{key} = {value!r} is not a plain relative path: '/'-separated names of letters, "
            "digits, '_', '-' and '.' (not first or last)"
        ) from None
    return value
