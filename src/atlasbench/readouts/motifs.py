"""Motifs a model learned: TF-MoDISco patterns per cell type, matched to JASPAR.

For each cell type, the regions the model predicts most specifically accessible there
are explained by contribution scores, gradient x input by default
(:mod:`atlasbench.readouts.contributions`). TF-MoDISco
(``modisco-lite``) cuts the high-contribution stretches (seqlets) out of these scores
and clusters them into patterns; each pattern is a contribution weight matrix (CWM,
the mean contribution per position and base) and a position probability matrix (PPM,
the base frequencies of its seqlets). Each pattern, trimmed to the positions carrying
at least 30% of its largest contribution (as TF-MoDISco's own report does), is
compared with the JASPAR CORE motifs by TOMTOM (``memelite``); q-values are
Benjamini-Hochberg over one pattern's comparisons with all motifs.

Two models that learned the same enhancer logic find patterns matched to the same
JASPAR motifs (:func:`motif_overlap`).

TF-MoDISco cannot run on every model: near-flat contribution scores (an untrained or
weakly trained model) leave it no null distribution to set seqlet thresholds from, or
too few seqlets to cluster, and a cell type may have no region predicted specific to
it. Such a cell type is skipped with one warning line and noted in ``notes.tsv``
(:func:`discover_motifs`, :func:`write_motifs`) instead of stopping the run.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from torch import nn

from atlasbench.errors import AtlasbenchError
from atlasbench.io.jaspar import Motif
from atlasbench.io.names import file_stem

log = logging.getLogger(__name__)

#: Columns of :func:`match_patterns`' table.
MATCH_COLUMNS = ["pattern", "n_seqlets", "consensus", "rank", "match", "matrix_id", "p_value", "q_value", "strand"]

#: Columns of ``notes.tsv`` (:func:`write_motifs`): why a cell type has no pattern.
NOTE_COLUMNS = ["model", "cell_type", "n_regions", "note"]


class NoPatterns(AtlasbenchError):
    """TF-MoDISco cannot run on these contribution scores; the message says why."""


def _raised_in_modisco(err: BaseException) -> str | None:
    """The modiscolite module an exception was raised in (innermost frame), else None."""
    module = None
    tb = err.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_globals.get("__name__", "")
        if name.startswith("modiscolite"):
            module = name
        tb = tb.tb_next
    return module


#: A pattern is trimmed to the positions holding at least this share of its largest
#: per-position contribution (TF-MoDISco's report uses 0.3).
TRIM_THRESHOLD = 0.3


@dataclass(frozen=True)
class Pattern:
    """One TF-MoDISco pattern, trimmed to its informative core.

    Attributes
    ----------
    name
        ``pos_<i>`` (raises the prediction) or ``neg_<i>`` (lowers it), numbered as
        TF-MoDISco orders them (most seqlets first).
    n_seqlets
        Number of seqlets clustered into the pattern.
    ppm
        float64 ``(length, 4)`` base frequencies (A, C, G, T) of the seqlets.
    cwm
        float64 ``(length, 4)`` mean contribution per position and base.
    """

    name: str
    n_seqlets: int
    ppm: np.ndarray
    cwm: np.ndarray

    @property
    def consensus(self) -> str:
        """The most frequent base at each position."""
        return "".join("ACGT"[i] for i in self.ppm.argmax(axis=1))


def specific_regions(predictions: np.ndarray, output: int, n: int) -> np.ndarray:
    """Indices of the regions predicted most specifically accessible in one output.

    Each output's predictions are standardised across regions (mean 0, SD 1), so that
    outputs on different scales compete fairly; a region is specific to the output where
    its standardised prediction is highest, and the ``n`` regions highest there are
    taken.

    Parameters
    ----------
    predictions
        ``(regions, outputs)`` model predictions.
    output
        The output's column.
    n
        Largest number of regions returned.

    Returns
    -------
    numpy.ndarray
        int64 indices, most specific first (fewer than ``n`` when fewer regions are
        specific to the output).
    """
    predictions = np.asarray(predictions, dtype=np.float64)
    sd = predictions.std(axis=0)
    z = (predictions - predictions.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    own = np.flatnonzero(z.argmax(axis=1) == output)
    order = np.argsort(-z[own, output], kind="stable")
    return own[order[:n]]


def _trim(ppm: np.ndarray, cwm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    score = np.abs(cwm).sum(axis=1)
    keep = np.flatnonzero(score >= TRIM_THRESHOLD * score.max())
    window = slice(int(keep.min()), int(keep.max()) + 1)
    return np.array(ppm[window], dtype=np.float64), np.array(cwm[window], dtype=np.float64)


def discover_patterns(
    codes: np.ndarray,
    hypothetical: np.ndarray,
    *,
    max_seqlets: int = 2000,
    leiden_runs: int = 50,
    window: int = 21,
    flank: int = 10,
) -> list[Pattern]:
    """TF-MoDISco patterns in the contribution scores of a set of sequences.

    Parameters
    ----------
    codes
        uint8 ``(n, L)`` base codes of the sequences.
    hypothetical
        float ``(n, 4, L)`` hypothetical contribution scores
        (:func:`atlasbench.readouts.contributions.integrated_gradients`).
    max_seqlets
        Largest number of seqlets clustered per sign (TF-MoDISco keeps the strongest).
    leiden_runs
        Leiden clustering runs (each with its own seed; the best partition is kept).
    window
        Width of the sliding window seqlets are called in.
    flank
        Bases added on each side of a called seqlet.

    Returns
    -------
    list of Pattern
        Positive patterns, then negative ones; empty when no seqlet cluster is found
        (e.g. too few seqlets of either sign).

    Raises
    ------
    NoPatterns
        When TF-MoDISco cannot run on the scores: they are all zero, or it cannot
        estimate the null distribution of seqlet scores or cluster the seqlets (near-flat
        scores make it divide by zero or take percentiles of nothing).
    """
    from modiscolite.tfmodisco import TFMoDISco

    from atlasbench.io.genome import codes_one_hot

    codes = np.asarray(codes, dtype=np.uint8)
    hypothetical = np.asarray(hypothetical, dtype=np.float32)
    if hypothetical.shape != (codes.shape[0], 4, codes.shape[1]):
        raise AtlasbenchError(
            f"hypothetical scores of shape {hypothetical.shape} do not fit sequences of shape "
            f"{codes.shape}; expected {(codes.shape[0], 4, codes.shape[1])}"
        )
    if codes.shape[1] < window + 2 * flank:
        raise AtlasbenchError(
            f"sequences of {codes.shape[1]} bp are shorter than a seqlet window with flanks ({window + 2 * flank} bp)"
        )
    one_hot = codes_one_hot(codes).transpose(0, 2, 1).astype(np.float32)  # (n, L, 4)
    actual = (one_hot * hypothetical.transpose(0, 2, 1)).sum(axis=2)
    if not np.isfinite(actual).all():
        raise NoPatterns("contribution scores are not all finite")
    if np.ptp(actual) == 0:
        raise NoPatterns("contribution scores are constant (the model ignores its input)")
    try:
        positive, negative = TFMoDISco(
            one_hot,
            hypothetical.transpose(0, 2, 1).copy(),
            sliding_window_size=window,
            flank_size=flank,
            max_seqlets_per_metacluster=max_seqlets,
            n_leiden_runs=leiden_runs,
        )
    except (ZeroDivisionError, IndexError, ValueError) as err:
        module = _raised_in_modisco(err)
        if module is None:
            raise
        step = (
            "no null distribution of seqlet scores (near-flat contributions)"
            if module.endswith("extract_seqlets")
            else "too few or too uniform seqlets to cluster"
        )
        raise NoPatterns(f"{step}; TF-MoDISco raised {type(err).__name__}: {err}") from err
    patterns = []
    for sign, found in (("pos", positive), ("neg", negative)):
        for i, pattern in enumerate(found or []):
            ppm, cwm = _trim(pattern.sequence, pattern.contrib_scores)
            patterns.append(Pattern(f"{sign}_{i}", len(pattern.seqlets), ppm, cwm))
    return patterns


def match_patterns(
    patterns: Sequence[Pattern], motifs: Sequence[Motif], top: int = 3, q_threshold: float = 0.05
) -> pd.DataFrame:
    """Compare patterns with JASPAR motifs by TOMTOM.

    A pattern of a family with many members in JASPAR (homeodomains: dozens of TAATTA
    matrices) matches them all about equally well, and which comes first turns on small
    differences between the matrices, not on the pattern. So beyond the ``top`` best,
    every further significant match is kept, with its rank: whether a given factor's
    motif was learned is whether it is among them.

    Parameters
    ----------
    patterns
        Patterns (:func:`discover_patterns`).
    motifs
        Target motifs (:func:`atlasbench.io.jaspar.jaspar_collection`).
    top
        Matches kept per pattern, best first, whatever their q-value.
    q_threshold
        Every further match with a q-value at most this is kept too.

    Returns
    -------
    pandas.DataFrame
        :data:`MATCH_COLUMNS`: one row per pattern and rank (1 = best) kept; ``strand``
        is ``-`` where the motif matches the pattern's reverse complement. Empty when
        there is no pattern.
    """
    from memelite import tomtom
    from scipy.stats import false_discovery_control

    if not patterns:
        return pd.DataFrame(columns=MATCH_COLUMNS)
    if not motifs:
        raise AtlasbenchError("no JASPAR motif to match patterns against")
    queries = [p.ppm.T for p in patterns]
    targets = [m.probs.T for m in motifs]
    p_values, _, _, _, strands = tomtom(queries, targets, n_jobs=1)
    rows = []
    for i, pattern in enumerate(patterns):
        q_values = false_discovery_control(np.clip(p_values[i], 0.0, 1.0), method="bh")
        order = np.argsort(p_values[i], kind="stable")
        kept = order[(np.arange(order.size) < top) | (q_values[order] <= q_threshold)]
        for rank, j in enumerate(kept, start=1):
            rows.append(
                (
                    pattern.name,
                    pattern.n_seqlets,
                    pattern.consensus,
                    rank,
                    motifs[j].name,
                    motifs[j].matrix_id,
                    float(p_values[i, j]),
                    float(q_values[j]),
                    "-" if strands[i, j] else "+",
                )
            )
    return pd.DataFrame(rows, columns=MATCH_COLUMNS)


def discover_motifs(
    model: nn.Module | Sequence[nn.Module],
    outputs: Sequence[str],
    codes: np.ndarray,
    cell_types: Sequence[str],
    motifs: Sequence[Motif],
    *,
    n_regions: int = 500,
    scores: Literal["gradient", "integrated_gradients"] = "gradient",
    steps: int = 32,
    max_seqlets: int = 2000,
    leiden_runs: int = 50,
    device: str = "auto",
) -> tuple[pd.DataFrame, dict[str, list[Pattern]]]:
    """TF-MoDISco patterns of a model per cell type, matched to JASPAR.

    Parameters
    ----------
    model
        A trained model, or several with the same outputs (e.g. one per test fold of a
        scenario): their predictions choose the regions and their contribution scores
        are averaged, as CREsted and ChromBPNet average over folds, so that what one
        model's initialisation or held-out fold made it learn weighs less.
    outputs
        Its output (cell type) names, in order.
    codes
        uint8 ``(n, L)`` base codes of candidate regions at the model's input length
        (e.g. the study's consensus regions).
    cell_types
        Cell types to explain.
    motifs
        JASPAR motifs to match against.
    n_regions
        Most specific regions explained per cell type (:func:`specific_regions`).
    scores
        Contribution scores: ``"gradient"`` (:func:`~atlasbench.readouts.contributions.input_gradients`)
        or ``"integrated_gradients"`` from the zero baseline
        (:func:`~atlasbench.readouts.contributions.integrated_gradients`).
    steps
        Integrated-gradient steps.
    max_seqlets, leiden_runs
        See :func:`discover_patterns`.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    table : pandas.DataFrame
        ``cell_type``, ``n_regions``, :data:`MATCH_COLUMNS` and ``note``. A cell type
        without a pattern (no specific region, TF-MoDISco cannot run on its scores, or
        finds no seqlet cluster) has one row with no pattern (NaN) and the reason in
        ``note`` (logged as a warning); ``note`` is empty on pattern rows.
        :func:`write_motifs` writes those rows to ``notes.tsv``.
    patterns : dict of str to list of Pattern
        Cell type -> its patterns (empty for the noted cell types).
    """
    from tqdm.auto import tqdm

    from atlasbench.models.predict import predict
    from atlasbench.readouts.contributions import input_gradients, integrated_gradients

    unknown = [c for c in cell_types if c not in outputs]
    if unknown:
        raise AtlasbenchError(f"no model output {unknown}; outputs: {', '.join(outputs)}")
    models = [model] if isinstance(model, nn.Module) else list(model)
    predictions = np.mean([predict(m, codes, device=device) for m in models], axis=0)
    columns = ["cell_type", "n_regions", *MATCH_COLUMNS, "note"]
    tables = []
    found: dict[str, list[Pattern]] = {}
    for cell_type in tqdm(cell_types, desc="motifs", unit="cell type", disable=None):
        output = list(outputs).index(cell_type)
        chosen = specific_regions(predictions, output, n_regions)
        log.info("%s: explaining %d specific regions", cell_type, len(chosen))
        found[cell_type] = []
        note = ""
        if len(chosen) == 0:
            note = "no region is predicted most specific to this cell type"
        else:
            if scores == "gradient":
                each = [input_gradients(m, codes[chosen], output, device=device)[1] for m in models]
            else:
                each = [integrated_gradients(m, codes[chosen], output, steps=steps, device=device)[1] for m in models]
            hypothetical = np.mean(each, axis=0)
            try:
                found[cell_type] = discover_patterns(
                    codes[chosen], hypothetical, max_seqlets=max_seqlets, leiden_runs=leiden_runs
                )
            except NoPatterns as err:
                note = str(err)
            else:
                if not found[cell_type]:
                    note = "TF-MoDISco found no seqlet cluster (too few seqlets of either sign)"
        if note:
            log.warning("motifs of %s skipped: %s (%d regions)", cell_type, note, len(chosen))
            row = dict.fromkeys(columns, np.nan) | {"cell_type": cell_type, "n_regions": len(chosen), "note": note}
            tables.append(pd.DataFrame([row], columns=columns))
            continue
        table = match_patterns(found[cell_type], motifs)
        table.insert(0, "n_regions", len(chosen))
        table.insert(0, "cell_type", cell_type)
        table["note"] = ""
        tables.append(table)
    return (pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)), found


def matched_motifs(table: pd.DataFrame, q_threshold: float = 0.05) -> pd.DataFrame:
    """Best JASPAR match of each pattern, where its q-value passes the threshold.

    Parameters
    ----------
    table
        Rows of :func:`discover_motifs` (optionally with a ``model`` column).
    q_threshold
        Largest q-value of a match.

    Returns
    -------
    pandas.DataFrame
        The rank-1 rows with ``q_value <= q_threshold``.
    """
    best = table[(table["rank"] == 1) & (table["q_value"] <= q_threshold)]
    return best.reset_index(drop=True)


def motif_overlap(table: pd.DataFrame, first: str, second: str, q_threshold: float = 0.05) -> pd.DataFrame:
    """Per cell type, the JASPAR motifs two models' patterns match, and their overlap.

    Only positive patterns (those raising the prediction) count.

    Parameters
    ----------
    table
        :func:`discover_motifs` rows of both models, with a ``model`` column.
    first, second
        The two models' names in that column.
    q_threshold
        Largest q-value of a match (see :func:`matched_motifs`).

    Returns
    -------
    pandas.DataFrame
        ``cell_type``, ``first`` and ``second`` (matched motif names, comma-separated),
        ``shared`` (names in both) and ``jaccard`` (shared / either; NaN when neither
        model has a match).
    """
    best = matched_motifs(table, q_threshold)
    best = best[best["pattern"].str.startswith("pos_")]
    rows = []
    for cell_type in pd.unique(table["cell_type"]):
        here = best[best["cell_type"] == cell_type]
        a = set(here.loc[here["model"] == first, "match"])
        b = set(here.loc[here["model"] == second, "match"])
        either = a | b
        rows.append(
            (
                cell_type,
                ",".join(sorted(a)),
                ",".join(sorted(b)),
                ",".join(sorted(a & b)),
                len(a & b) / len(either) if either else float("nan"),
            )
        )
    return pd.DataFrame(rows, columns=["cell_type", "first", "second", "shared", "jaccard"])


def planted_motifs(matches: pd.DataFrame, activators: Mapping[str, str], q_threshold: float = 0.05) -> pd.DataFrame:
    """Per model and cell type, whether motif discovery found the motif known to open its regions.

    Found: a positive pattern of the cell type matches the activator's JASPAR motif at
    ``q <= q_threshold``, at whatever rank among the pattern's matches. JASPAR holds many
    near-identical matrices of one family (dozens of TAATTA homeodomains, several GATA
    factors), and which of them comes first turns on the matrices, not on what the model
    learned; the rank and the first match are reported beside it. The check that keeps
    the rule honest is reported too: which *other* cell types' activators the same
    patterns match, which a rule too loose would call found as well.

    Parameters
    ----------
    matches
        Every kept match (:func:`match_patterns`, ``matches.tsv`` of :func:`write_motifs`)
        with ``model``, ``cell_type``, ``pattern``, ``rank``, ``match`` and ``q_value``.
    activators
        Cell type -> the JASPAR name of its activator (e.g. the simulator's planted ones).
    q_threshold
        Largest q-value of a match.

    Returns
    -------
    pandas.DataFrame
        One row per model and cell type: ``analysed`` (the model has patterns for it),
        ``found``, and for the best-matching pattern its ``pattern``, ``q_value``,
        ``jaspar_rank`` (0 when not found) and ``first_match``; the other cell types'
        activators its patterns match, ``other_activators`` (comma-separated), and their
        number ``n_other_matched``, out of ``n_other_activators``; ``best_matches``, the
        best significant match of each positive pattern.
    """
    matches = matches.astype({"model": str, "cell_type": str, "pattern": str, "match": str})
    explained = set(zip(matches["model"], matches["cell_type"]))
    significant = matches[(matches["q_value"].astype(float) <= q_threshold) & matches["pattern"].str.startswith("pos_")]
    by_cell_type = dict(list(significant.groupby(["model", "cell_type"], sort=False)))
    first = matches[matches["rank"] == 1].set_index(["model", "cell_type", "pattern"])["match"]
    rows = []
    for model in pd.unique(matches["model"]):
        for name, activator in activators.items():
            mine = by_cell_type.get((model, name), significant.iloc[:0])
            names = set(mine["match"].str.lower())
            planted = mine[mine["match"].str.lower() == activator.lower()]
            best = planted.sort_values(["q_value", "rank"]).iloc[0] if len(planted) else None
            others = {a for c, a in activators.items() if c != name and a.lower() != activator.lower()}
            matched = [a for a in others if a.lower() in names]
            rows.append(
                {
                    "cell_type": name,
                    "planted_activator": activator,
                    "model": model,
                    "analysed": (model, name) in explained,
                    "found": best is not None,
                    "pattern": "" if best is None else best["pattern"],
                    "q_value": math.nan if best is None else float(best["q_value"]),
                    "jaspar_rank": 0 if best is None else int(best["rank"]),
                    "first_match": "" if best is None else first[(model, name, best["pattern"])],
                    "other_activators": ",".join(sorted(matched)),
                    "n_other_matched": len(matched),
                    "n_other_activators": len(others),
                    "best_matches": ",".join(dict.fromkeys(mine.loc[mine["rank"] == 1, "match"])),
                }
            )
    return pd.DataFrame(rows)


def _information(probs: np.ndarray) -> np.ndarray:
    """Per-base heights of an information-content logo (bits)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(probs > 0, probs * np.log2(probs), 0.0), axis=1, keepdims=True)
    return probs * (2.0 - entropy)


def write_motifs(
    table: pd.DataFrame,
    patterns: dict[tuple[str, str], list[Pattern]],
    motifs: Sequence[Motif],
    out: str | os.PathLike[str],
    q_threshold: float = 0.05,
) -> dict[str, Path]:
    """Write motif tables and logos.

    Files: ``matches.tsv`` (every pattern's top matches and its further significant
    ones, :func:`match_patterns`), ``motifs.tsv`` (one row per
    pattern: model, cell type, pattern, seqlets, consensus, best JASPAR match, its
    p- and q-value), ``notes.tsv`` (:data:`NOTE_COLUMNS`: each model and cell type
    without a pattern, and why; only a header when every one has patterns),
    ``overlap.tsv`` when two models are given (:func:`motif_overlap`), ``patterns.npz``
    (each pattern's PPM and CWM) and per model and cell type a logo figure
    ``logos/<model>_<cell type>.png`` / ``.pdf``: each pattern's CWM beside the
    information-content logo of its best match (reverse-complemented where it matched
    that strand), titled with the match and q-value.

    Parameters
    ----------
    table
        :func:`discover_motifs` rows with a ``model`` column (rows with a ``note`` and no
        pattern go to ``notes.tsv``).
    patterns
        ``(model, cell type)`` -> its patterns.
    motifs
        The JASPAR motifs matched against (for the match logos).
    out
        Output folder.
    q_threshold
        Largest q-value counted as a match in ``overlap.tsv`` and marked in the logos.

    Returns
    -------
    dict of str to pathlib.Path
        File kind -> path (``logo:<model>:<cell type>`` for the figures).
    """
    import logomaker
    from matplotlib.figure import Figure

    from atlasbench.io.atomic import atomic_path
    from atlasbench.io.figures import save_figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "matches": out / "matches.tsv",
        "motifs": out / "motifs.tsv",
        "notes": out / "notes.tsv",
        "patterns": out / "patterns.npz",
    }
    if "note" in table.columns:
        noted = table["pattern"].isna()
        notes = table.loc[noted, [c for c in NOTE_COLUMNS if c in table.columns]]
        table = table.loc[~noted].drop(columns="note").reset_index(drop=True)
        # the note rows' NaN made these columns float; pattern rows hold whole numbers
        table = table.astype({c: "int64" for c in ("n_regions", "rank", "n_seqlets") if c in table.columns})
    else:
        notes = pd.DataFrame(columns=[c for c in NOTE_COLUMNS if c != "model" or "model" in table.columns])
    with atomic_path(paths["notes"]) as tmp:
        notes.to_csv(tmp, sep="\t", index=False)
    with atomic_path(paths["matches"]) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4g")
    best = table[table["rank"] == 1].drop(columns="rank")
    with atomic_path(paths["motifs"]) as tmp:
        best.to_csv(tmp, sep="\t", index=False, float_format="%.4g")
    models = list(pd.unique(table["model"])) if len(table) else []
    if len(models) == 2:
        paths["overlap"] = out / "overlap.tsv"
        with atomic_path(paths["overlap"]) as tmp:
            first, second = models
            motif_overlap(table, first, second, q_threshold=q_threshold).to_csv(
                tmp, sep="\t", index=False, float_format="%.4g"
            )
    arrays = {
        f"{m}/{c}/{p.name}/{kind}": getattr(p, kind)
        for (m, c), found in patterns.items()
        for p in found
        for kind in ("ppm", "cwm")
    }
    with atomic_path(paths["patterns"]) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    by_id = {m.matrix_id: m for m in motifs}
    for (model, cell_type), found in patterns.items():
        if not found:
            continue
        fig = Figure(figsize=(9, 1.5 * len(found) + 0.4))
        axes = fig.subplots(len(found), 2, squeeze=False, width_ratios=[3, 2])
        for row, pattern in zip(axes, found):
            logomaker.Logo(pd.DataFrame(pattern.cwm, columns=list("ACGT")), ax=row[0], color_scheme="classic")
            row[0].set_ylabel("contribution", fontsize=7)
            row[0].set_title(f"{cell_type} {pattern.name}: {pattern.n_seqlets} seqlets", fontsize=8, loc="left")
            hit = best[(best["model"] == model) & (best["cell_type"] == cell_type) & (best["pattern"] == pattern.name)]
            if hit.empty:
                row[1].set_axis_off()
                continue
            hit = hit.iloc[0]
            probs = by_id[hit["matrix_id"]].probs
            if hit["strand"] == "-":
                probs = probs[::-1, ::-1]
            logomaker.Logo(pd.DataFrame(_information(probs), columns=list("ACGT")), ax=row[1], color_scheme="classic")
            row[1].set_ylim(0, 2)
            row[1].set_ylabel("bits", fontsize=7)
            mark = "" if hit["q_value"] <= q_threshold else " (not significant)"
            row[1].set_title(
                f"JASPAR {hit['match']} {hit['matrix_id']}, q = {hit['q_value']:.2g}{mark}", fontsize=8, loc="left"
            )
        fig.suptitle(f"{model}: TF-MoDISco patterns, {cell_type}", fontsize=9)
        fig.tight_layout()
        key = f"logo:{model}:{cell_type}"
        paths[key] = out / "logos" / f"{file_stem(f'{model}_{cell_type}')}.png"
        paths[key].parent.mkdir(exist_ok=True)
        save_figure(fig, paths[key])
    return paths
