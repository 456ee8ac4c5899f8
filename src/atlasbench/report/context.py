"""What every section of the report sees: the study's settings, its results, and the page being written.

The report knows a study only through :class:`ReportSettings`, a few plain values the
study layer fills in (:func:`atlasbench.study.jobs.report_settings`), and
:class:`ReportInputs`, the files and folders the study produced. While the page is
written, one :class:`ReportContext` carries them to every section function together
with what the sections share: the evaluation table read once, the accuracy per design
and its saturation fits (:class:`Accuracy`), the tables written so far, the figure
writer, and what one section measured that a later one compares (the QC's library
complexities, the motif table). A section function takes the context and returns a
:class:`Section`: its HTML and its sentences for the page's summary.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from atlasbench.data.levels import FULL_LEVEL, LEVEL_PATTERN
from atlasbench.errors import AtlasbenchError
from atlasbench.io.atomic import atomic_path
from atlasbench.io.figures import save_figure
from atlasbench.readouts import cost
from atlasbench.report.html import png_size
from atlasbench.report.plots import platform_colours

log = logging.getLogger(__name__)

__all__ = [
    "CSS_DPI",
    "FIGURE_DPI",
    "METRIC",
    "METRIC_LABEL",
    "Q_THRESHOLD",
    "Accuracy",
    "ReportContext",
    "ReportInputs",
    "ReportSettings",
    "Section",
    "load_accuracy",
    "read_evaluation_table",
    "read_labelled_table",
    "read_reads_unit",
    "read_usable_fractions",
]

METRIC = "pearson_mean"
"""The accuracy the report speaks of: the test Pearson (mean over cell types), against full data."""
METRIC_LABEL = "test Pearson vs full data"
"""How the page names :data:`METRIC`."""
Q_THRESHOLD = 0.05
"""TOMTOM q-value at or below which a motif matches a JASPAR motif."""
FIGURE_DPI = 150
"""Resolution of the figures drawn for the report."""
CSS_DPI = 96
"""CSS pixels per inch: figures are shown at their printed size."""


@dataclass(frozen=True)
class ReportSettings:
    """What the report needs to know of the study, as plain values.

    The study layer builds it from the study file
    (:func:`atlasbench.study.jobs.report_settings`); the report reads nothing else of the
    study, so it can be written, and tested, from these values alone.

    Attributes
    ----------
    name
        The study's name (the page's title).
    description
        The study's description, shown under the title; None or empty for none.
    platforms
        Platform names in the study's order, which sets their order and colour in every
        figure and table (platforms found only in the results follow).
    architecture
        The study's model architecture, reported when the evaluation table holds several.
    reference_platform
        Platform the others are compared with (cost comparison, paired comparisons);
        None: the first platform evaluated (and priced, for costs).
    costs
        Platform -> ``(per_cell, per_million_reads)``, for the platforms with cost figures
        (combined platforms have none), in the study's order; checked when used
        (:func:`atlasbench.readouts.cost.unit_costs`).
    currency
        Currency of the cost figures (:func:`atlasbench.readouts.cost.cost_currency`).
    """

    name: str
    description: str | None = None
    platforms: tuple[str, ...] = ()
    architecture: str | None = None
    reference_platform: str | None = None
    costs: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    currency: str = "USD"


@dataclass(frozen=True)
class ReportInputs:
    """What a study produced, as files and folders; any may be missing (its section is skipped).

    Attributes
    ----------
    evaluation
        Tidy evaluation table (Parquet, TSV or CSV) with the columns of
        :data:`atlasbench.readouts.evaluate.TIDY_COLUMNS`: one row per (platform, level, fold,
        seed, model, against, cell type, metric). ``against`` is ``own``, ``full`` (the
        platform's full data) or ``platform:<other>``; ``cell_type`` ``all`` rows hold the
        summary metrics such as ``pearson_mean``.
    qc
        Platform -> targets folder holding ``qc.tsv`` (per-cell QC) and ``levels.tsv``
        (achieved reads and cells of every level), as
        :func:`atlasbench.study.data_stages.targets_stage` writes them.
    tn5
        Folder written by :func:`atlasbench.readouts.tn5.write_bias`.
    motifs
        Folder written by :func:`atlasbench.readouts.motifs.write_motifs`.
    enhancers
        Platform -> folder written by :func:`atlasbench.readouts.enhancers.write_enhancer_report`.
    truth
        The ``truth/`` folder of a simulated atlas (``simulation.json``,
        ``tn5_log_odds.tsv``), when the study is a simulation.
    truth_fidelity
        TSV of :func:`atlasbench.readouts.fidelity.target_fidelity`: how closely each grid
        point's targets follow the truth, the ranking the benchmark is expected to find.
    enhancer_summary
        Validated-enhancer read-out of every scenario's fold models and ensemble
        (``summary.tsv`` of the enhancers job).
    scenario_labels
        (platform, level key) -> how the report names the grid point
        (:func:`atlasbench.study.scenarios.scenario_labels`).
    scenario_pairs
        Grid points (platform, level key) to compare, ``(a, b)``
        (:func:`atlasbench.study.scenarios.one_factor_pairs` of the named scenarios).
    """

    evaluation: Path | None
    qc: dict[str, Path] = field(default_factory=dict)
    tn5: Path | None = None
    motifs: Path | None = None
    enhancers: dict[str, Path] | None = None
    truth: Path | None = None
    truth_fidelity: Path | None = None
    enhancer_summary: Path | None = None
    scenario_labels: dict[tuple[str, str], str] = field(default_factory=dict)
    scenario_pairs: list[tuple[tuple[str, str], tuple[str, str]]] = field(default_factory=list)


class Section(NamedTuple):
    """What a section function gives the page."""

    body: str
    """The section's HTML (without its heading)."""
    summary: list[str]
    """Its sentences for the page's summary, as HTML (possibly none)."""


@dataclass
class Accuracy:
    """The evaluation table reduced to what the accuracy sections need."""

    evaluation: pd.DataFrame
    """Rows of the chosen model, platforms in report order."""
    designs: pd.DataFrame
    """Accuracy per design (:func:`atlasbench.readouts.cost.aggregate_designs`) with its costs
    (:func:`atlasbench.readouts.cost.design_costs`) and its level keys (``reads_level``,
    ``cells_level``)."""
    fits: dict[str, cost.SaturationFit]
    """Saturation fit per platform (platforms that could not be fitted are missing)."""
    full: pd.DataFrame
    """One row of ``designs`` per platform: its full-data design (else its largest)."""
    model: str | None
    """The architecture reported; None when the table has no ``model`` column."""


def read_evaluation_table(path: Path | None) -> tuple[pd.DataFrame | None, str]:
    """The evaluation table, or None and a note (HTML) saying why there is none.

    Parameters
    ----------
    path
        The table (:attr:`ReportInputs.evaluation`), or None.

    Returns
    -------
    tuple of (pandas.DataFrame or None, str)
        The table and ``""``; or None and the note the accuracy sections show instead.
    """
    if path is None:
        return None, "No evaluation table was given (train the grid first)."
    if not Path(path).is_file():
        log.warning("report: evaluation table %s not found", path)
        return None, f"No evaluation table at <code>{html.escape(str(path))}</code> (train the grid first)."
    try:
        table = cost.read_evaluation(path)
    except AtlasbenchError as exc:
        log.warning("report: %s", exc)
        return None, html.escape(str(exc))
    missing = [
        c
        for c in ("platform", "level", "reads_per_cell", "n_cells", "against", "metric", "value")
        if c not in table.columns
    ]
    if missing:
        return None, f"The evaluation table lacks column(s) {html.escape(', '.join(missing))}."
    return table, ""


def read_usable_fractions(folders: Mapping[str, Path] | None) -> dict[str, float]:
    """Platform -> usable fraction, from the ``sequencing.json`` the data stages write beside
    each platform's QC (:attr:`ReportInputs.qc`; only platforms with ``sequenced_reads`` have one)."""
    out: dict[str, float] = {}
    for platform, folder in (folders or {}).items():
        path = Path(folder) / "sequencing.json"
        if path.is_file():
            out[str(platform)] = float(json.loads(path.read_text())["usable_fraction"])
    return out


def read_labelled_table(path: str | Path, text: Sequence[str] = ("barcode", "cell_type", "sample")) -> pd.DataFrame:
    """A TSV the data stages wrote, with its label columns read as written.

    Labels are data: a cell type called "NA" or "null" stays that name (pandas would
    read it as missing). The other columns are parsed as usual, empty cells as NaN.

    Parameters
    ----------
    path
        Tab-separated table with a header.
    text
        Columns kept as strings, exactly as written (those present).

    Returns
    -------
    pandas.DataFrame
    """
    header = pd.read_csv(path, sep="\t", nrows=0).columns
    labels = {c: str for c in header if c in text}
    missing = {c: ["", "NaN", "nan", "NA", "N/A", "null", "None"] for c in header if c not in labels}
    return pd.read_csv(path, sep="\t", dtype=labels, keep_default_na=False, na_values=missing)


def read_reads_unit(folders: Mapping[str, Path] | None) -> str:
    """The unit of the study's reads-per-cell levels, as the data stages wrote it in each
    platform's ``levels.tsv`` (``reads_unit``): "usable read pairs" (also for tables
    written before the column existed) or "sequenced read pairs"."""
    for folder in (folders or {}).values():
        path = Path(folder) / "levels.tsv"
        if path.is_file():
            units = pd.read_csv(path, sep="\t", usecols=lambda c: c == "reads_unit")
            if "reads_unit" in units.columns and len(units):
                return str(units["reads_unit"].iloc[0])
    return "usable read pairs"


def load_accuracy(
    table: pd.DataFrame,
    settings: ReportSettings,
    platforms: Sequence[str],
    usable_fraction: Mapping[str, float] | None = None,
) -> Accuracy:
    """Accuracy of every design, its cost and saturation fits, and each platform's full-data design.

    Accuracy is ``pearson_mean`` against the platform's full data, mean and SD over folds
    and seeds (:func:`atlasbench.readouts.cost.aggregate_designs`), the measure of the
    cost analysis. When the table holds several architectures, the study's own
    (``settings.architecture``) is kept, else the first by name. Each platform's
    saturation surface is fitted (:func:`atlasbench.readouts.cost.fit_saturation`); a
    platform that cannot be fitted is logged and left out of ``fits``.

    Parameters
    ----------
    table
        The evaluation table (:func:`read_evaluation_table`).
    settings
        The study's settings (architecture, cost figures).
    platforms
        Platforms in report order.
    usable_fraction
        Platform -> usable fraction (:func:`read_usable_fractions`): those platforms'
        sequencing is charged per sequenced read (:func:`atlasbench.readouts.cost.design_costs`).

    Returns
    -------
    Accuracy

    Raises
    ------
    AtlasbenchError
        When the table has no usable rows (no ``pearson_mean`` against ``full``), or a
        cost figure is invalid.
    """
    chosen = None
    if "model" in table.columns:
        models = sorted(map(str, table["model"].dropna().unique()))
        if models:
            chosen = settings.architecture if settings.architecture in models else models[0]
            if len(models) > 1:
                log.info("report: the evaluation holds models %s; reporting %s", ", ".join(models), chosen)
            table = table[table["model"].astype(str) == chosen]
    rank = {p: i for i, p in enumerate(platforms)}
    table = table.assign(_order=table["platform"].astype(str).map(rank))
    table = table.sort_values("_order", kind="stable").drop(columns="_order")
    designs = cost.design_costs(cost.aggregate_designs(table, METRIC, "full"), settings.costs, usable_fraction)
    parsed = designs["level"].astype(str).str.extract(LEVEL_PATTERN)
    designs["reads_level"] = parsed["reads"].fillna(designs["reads_per_cell"].round().astype(int).astype(str))
    designs["cells_level"] = parsed["cells"].fillna(designs["n_cells"].round().astype(int).astype(str))
    fits: dict[str, cost.SaturationFit] = {}
    for platform, group in designs.groupby("platform", sort=False):
        try:
            fits[str(platform)] = cost.fit_saturation(group["reads_per_cell"], group["n_cells"], group["accuracy_mean"])
        except AtlasbenchError as exc:
            log.warning("report: %s: no saturation fit: %s", platform, exc)
    full = []
    for _, group in designs.groupby("platform", sort=False):
        at_full = group[group["level"] == FULL_LEVEL]
        row = at_full.iloc[0] if len(at_full) else group.loc[(group["reads_per_cell"] * group["n_cells"]).idxmax()]
        full.append(row)
    return Accuracy(table, designs, fits, pd.DataFrame(full).reset_index(drop=True), chosen)


class ReportContext:
    """The report being written: settings, inputs and what the sections share.

    Parameters
    ----------
    settings
        The study's settings.
    inputs
        Where the study's results are.
    out
        Output folder of the report (``tables/`` and ``figures/`` go under it).

    Attributes
    ----------
    platforms
        Platform names in report order: the study's, then any found only in the results.
    colours
        Platform -> colour (:func:`atlasbench.report.plots.platform_colours`).
    evaluation, evaluation_note
        The evaluation table, or None and why (HTML), read once.
    tables
        Name -> path of every tidy table written so far (``tables/<name>.csv``).
    n_images
        Figures embedded in the page so far.
    qc_medians
        The QC section's table of medians per platform (None until it ran).
    complexity
        Per platform, each annotated cell's library complexity (from the QC section).
    motif_matches
        The motifs section's matches, every one kept per pattern (``matches.tsv`` of
        :func:`atlasbench.readouts.motifs.write_motifs`; None until it ran).
    usable_fraction
        Platform -> usable read pairs per sequenced read pair, where known.
    reads_unit
        What the study's reads-per-cell levels count (:func:`read_reads_unit`); measured
        depths (achieved means, saturation depths) count usable read pairs.
    platform_comparisons
        Target set (``full``, ``truth``) -> the platforms' paired comparison over the grid, or
        the error that prevented it; filled by
        :func:`atlasbench.report.comparisons.platform_comparison`, so that the sections that
        rank platforms all read one comparison.
    """

    def __init__(self, settings: ReportSettings, inputs: ReportInputs, out: Path) -> None:
        self.settings = settings
        self.inputs = inputs
        self.out = out
        self.tables: dict[str, Path] = {}
        self.n_images = 0
        self.qc_medians: pd.DataFrame | None = None
        self.complexity: dict[str, pd.Series] = {}
        self.motif_matches: pd.DataFrame | None = None
        self._accuracy: Accuracy | None = None
        self.platform_comparisons: dict[str, pd.DataFrame | AtlasbenchError] = {}
        self.evaluation, self.evaluation_note = read_evaluation_table(inputs.evaluation)
        # sequencing is charged per sequenced read where the usable fraction is known
        self.usable_fraction = read_usable_fractions(inputs.qc)
        self.reads_unit = read_reads_unit(inputs.qc)
        extra = list(self.evaluation["platform"].astype(str).unique()) if self.evaluation is not None else []
        extra += list(inputs.qc or {}) + list(inputs.enhancers or {})
        self.platforms = list(dict.fromkeys([*settings.platforms, *extra]))
        self.colours = platform_colours(self.platforms)

    def accuracy(self) -> Accuracy | None:
        """The accuracy per design (:func:`load_accuracy`), computed once; None without an evaluation table.

        Raises
        ------
        AtlasbenchError
            As :func:`load_accuracy` (again at each call: every section that needs it says why).
        """
        if self._accuracy is None and self.evaluation is not None:
            self._accuracy = load_accuracy(self.evaluation, self.settings, self.platforms, self.usable_fraction)
        return self._accuracy

    def table(self, name: str, frame: pd.DataFrame) -> None:
        """Write a tidy table as ``tables/<name>.csv`` (atomically) and remember it."""
        path = self.out / "tables" / f"{name}.csv"
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False, float_format="%.6g")
        self.tables[name] = path

    def figure(self, fig: Any, name: str, caption: str) -> str:
        """Write ``fig`` as ``figures/<name>.png`` and ``.pdf`` and return it embedded, with its caption (HTML)."""
        png, _ = save_figure(fig, self.out / "figures" / f"{name}.png", dpi=FIGURE_DPI)
        return self.embed(png, caption)

    def embed(self, png: Path, caption: str, alt: str | None = None) -> str:
        """A PNG embedded in the page as a ``data:`` URI, at its printed size, with its caption.

        Parameters
        ----------
        png
            The image.
        caption
            Caption (HTML).
        alt
            Alternative text; default the caption's first sentence without tags.

        Returns
        -------
        str
            A ``<figure>`` element.
        """
        data = Path(png).read_bytes()
        width, height, dpi = png_size(data)
        shown = round(width * CSS_DPI / dpi) if dpi else width
        self.n_images += 1
        encoded = base64.b64encode(data).decode("ascii")
        alt_text = html.escape(alt or re.sub(r"<[^>]+>", "", caption).split(".")[0], quote=True)
        return (
            f'<figure><img src="data:image/png;base64,{encoded}" alt="{alt_text}" width="{shown}" '
            f'style="aspect-ratio:{width}/{height}"><figcaption>{caption}</figcaption></figure>'
        )
