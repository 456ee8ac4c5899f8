"""Atomic file writing: write beside the target, then rename, so nothing half-written is left."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    Any writer (pyBigWig, anndata, pyarrow, a plain ``open``) writes to the yielded path.
    If the block raises, the temporary file is removed and ``target`` is untouched, so a
    crash or an interrupted run never leaves a truncated artefact under the final name.

    Parameters
    ----------
    target
        Final path of the file.

    Yields
    ------
    pathlib.Path
        Temporary path in the same directory (same filesystem, so the rename is atomic),
        keeping the target's suffixes so format-sniffing writers behave.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + "".join(target.suffixes), dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``target`` atomically (see :func:`atomic_path`)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)
