"""The one rule that turns a name from the data (a cell type, a platform, a model) into a
file name.

Cell-type names are data: the Allen taxonomy writes "L2/3 IT", others "CD4+ T (naive)".
A file name must not hold a path separator, must not be hidden, and should survive every
file system and shell. :func:`file_stem` keeps a name that is already safe as it is (so
the files of simple names stay readable, ``B_cell.bed``) and otherwise replaces every
unsafe character by ``_`` and appends a short hash of the original name, so that two
names differing only in unsafe characters ("L2/3 IT" and "L2-3 IT") never share a file.
Tables and figures always show the original name; only paths use the stem.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["file_stem"]

_SAFE = re.compile(r"[A-Za-z0-9_.\-]+")
_UNSAFE_CHARACTER = re.compile(r"[^A-Za-z0-9_.\-]")


def file_stem(name: str) -> str:
    """A safe, unique file-name stem for ``name``.

    Parameters
    ----------
    name
        Any non-empty name, Unicode included.

    Returns
    -------
    str
        ``name`` itself when it holds only ASCII letters, digits, ``_``, ``-`` and ``.``
        and does not start with ``.``; otherwise ``name`` with each other character
        replaced by ``_`` (a leading ``.`` too), then ``-`` and the first 8 hex digits
        of the sha256 of ``name``: ``"L2/3 IT"`` gives ``"L2_3_IT-<hash>"``.

    Raises
    ------
    ValueError
        If ``name`` is empty.
    """
    if not name:
        raise ValueError("a name for a file must not be empty")
    if _SAFE.fullmatch(name) and not name.startswith("."):
        return name
    cleaned = _UNSAFE_CHARACTER.sub("_", name)
    if cleaned.startswith("."):
        cleaned = "_" + cleaned[1:]
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned}-{digest}"
