"""Figure output shared by the read-outs: each figure as PNG and PDF, written atomically.

Figures are built on ``matplotlib.figure.Figure`` directly, never through ``pyplot``, so
writing them neither needs a display nor changes the backend of a notebook's session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from atlasbench.io.atomic import atomic_path


def save_figure(fig: Any, png: Path, dpi: int = 200) -> tuple[Path, Path]:
    """Write ``fig`` to ``png`` and to the ``.pdf`` beside it, each atomically.

    Returns
    -------
    tuple of pathlib.Path
        The PNG and PDF paths.
    """
    pdf = png.with_suffix(".pdf")
    for path, fmt in ((png, "png"), (pdf, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=fmt)
    return png, pdf
