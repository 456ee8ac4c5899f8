"""Transcription start sites from a gene annotation (GTF or GFF3, plain or gzip)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

from atlasbench.errors import input_error

TRANSCRIPT_FEATURES = {
    "transcript",
    "mRNA",
    "ncRNA",
    "lnc_RNA",
    "snRNA",
    "snoRNA",
    "miRNA",
    "pre_miRNA",
    "rRNA",
    "tRNA",
}


def read_tss(path: str | Path) -> pd.DataFrame:
    """Read the unique transcription start sites of an annotation.

    Transcript features give the TSS (GTF ``transcript``; GFF3 ``mRNA``, ``ncRNA`` and
    kin); an annotation with no transcript features falls back to ``gene``. The TSS is
    the feature's 5' end: its start on the ``+`` strand, its end on the ``-`` strand.

    Parameters
    ----------
    path
        GTF or GFF3 file, plain text or gzip.

    Returns
    -------
    pandas.DataFrame
        Columns chrom, pos (0-based), strand; one row per distinct site, sorted.
    """
    path = Path(path)
    if not path.exists():
        raise input_error(path, "annotation file not found")
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    rows: dict[str, list] = {"transcript": [], "gene": []}
    with opener(path, "rt") as fh:
        for line_no, line in enumerate(fh, start=1):
            if line.startswith("#") or not line.strip():
                if line.startswith("##FASTA"):
                    break
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 9:
                raise input_error(path, f"expected 9 tab-separated GTF/GFF columns, found {len(fields)}", line_no)
            feature = fields[2]
            kind = "transcript" if feature in TRANSCRIPT_FEATURES else "gene" if feature == "gene" else None
            if kind is None:
                continue
            try:
                start, end = int(fields[3]), int(fields[4])
            except ValueError:
                raise input_error(
                    path, f"start and end must be integers, found {fields[3]!r} {fields[4]!r}", line_no
                ) from None
            strand = fields[6]
            if strand not in ("+", "-"):
                continue
            rows[kind].append((fields[0], start - 1 if strand == "+" else end - 1, strand))
    chosen = rows["transcript"] or rows["gene"]
    if not chosen:
        raise input_error(path, "no transcript or gene features with a strand: is this a GTF/GFF file?")
    tss = pd.DataFrame(chosen, columns=["chrom", "pos", "strand"]).drop_duplicates()
    return tss.sort_values(["chrom", "pos"], kind="stable").reset_index(drop=True)
