"""``atlasbench``: the command line, a thin layer over the Python API."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Literal

import click

from atlasbench import __version__
from atlasbench.errors import AtlasbenchError
from atlasbench.study.presets import PRESETS

log = logging.getLogger("atlasbench")


class _Group(click.Group):
    """Click group that prints AtlasbenchError as a one-line message, no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AtlasbenchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="atlasbench")
@click.option("-v", "--verbose", count=True, help="More log output (-v: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Warnings and errors only.")
def main(verbose: int, quiet: bool) -> None:
    """Benchmark scATAC-seq platforms by the sequence-to-function models trained on their data.

    A study is a YAML file naming the genome, the platforms (fragments, cell table,
    costs), the grid of reads per cell x cells, folds, model and executor. Start with
    `atlasbench demo`, or check your own study with `atlasbench validate STUDY.yaml`.
    """
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    log.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)


@main.command(epilog="\b\nPresets:\n" + "\n".join(f"  {name:<16} {what}" for name, what in PRESETS.items()))
@click.argument("study_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--preset", required=True, type=click.Choice(list(PRESETS)), help="The protocol to start from (below).")
@click.option("--force", is_flag=True, help="Replace STUDY_FILE if it exists.")
def init(study_file: Path, preset: str, force: bool) -> None:
    """Write a commented study file carrying a published protocol, to fill in and run.

    Every setting is chosen, with a comment saying where it comes from (targets,
    folds, model, training recipe, scenarios, costs, executor); your own files are left
    as "FILL_IN: ..." values whose text says what to give. Then `atlasbench validate
    STUDY_FILE` lists every field still to fill in, and `atlasbench run STUDY_FILE`.
    """
    from atlasbench.study.presets import unfilled_fields, write_preset

    write_preset(preset, study_file, overwrite=force)
    fields = unfilled_fields(study_file)
    click.echo(f"wrote {study_file} (preset {preset}; the comments at its top say what comes next)")
    if fields:
        click.echo(f"{len(fields)} field(s) to fill in:")
        for field, hint in fields.items():
            click.echo(f"  {field}: {hint}" if hint else f"  {field}")
    click.echo(f"then: atlasbench validate {study_file}")


@main.command()
@click.argument("study_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--max-fragments",
    default=2_000_000,
    show_default=True,
    help="Fragments read per file for the barcode checks (0: all); contigs are listed from the whole file.",
)
def validate(study_file: Path, max_fragments: int) -> None:
    """Check a study file and the files it names, before any long work.

    Reports every problem at once: schema mistakes with their field path, missing
    files, chromosome names that do not agree between genome, fragments and regions
    (chr2L and 2L are accepted as the same), cell-table barcodes absent from the
    fragments, and cells levels (grid or named scenario) that would leave no cell type
    grid.min_cells_per_type cells (types short of it at a level are logged). Every
    contig of every fragments file is logged as kept, renamed or dropped (from the tabix
    index when there is one, otherwise by a full pass); a contig absent from the genome
    is a problem only with genome.unknown_contigs: error.
    """
    from atlasbench.study.loader import load_study
    from atlasbench.study.validate import check_study

    study = load_study(study_file)
    problems = check_study(study, max_fragments=max_fragments)
    if problems:
        raise AtlasbenchError(f"{study_file}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    click.echo(f"{study_file}: OK ({len(study.platforms)} platform(s), output in {study.output})")


@main.command()
@click.argument("fragments", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--cells",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Cell table (barcode, cell_type): report only these barcodes, with their type.",
)
@click.option("--regions", type=click.Path(dir_okay=False, path_type=Path), help="BED of regions, for FRiP.")
@click.option(
    "--annotation",
    type=click.Path(dir_okay=False, path_type=Path),
    help="GTF/GFF3 gene annotation, for TSS enrichment.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output table (.tsv or .parquet); the fragment-length histogram goes beside it.",
)
def qc(fragments: Path, cells: Path | None, regions: Path | None, annotation: Path | None, out: Path) -> None:
    """Per-barcode QC of a fragments file: fragments, reads, duplication, FRiP, TSS enrichment."""
    from atlasbench.data.ingest import default_sample_name, read_cell_table
    from atlasbench.data.qc import fragments_qc, write_table
    from atlasbench.data.regions import read_bed
    from atlasbench.io.annotation import read_tss

    cell_table = None if cells is None else read_cell_table(cells, [default_sample_name(fragments)])
    table, hist = fragments_qc(
        fragments,
        cells=cell_table,
        regions=None if regions is None else read_bed(regions),
        tss=None if annotation is None else read_tss(annotation),
    )
    write_table(table, out)
    hist_path = out.with_name(out.name.split(".")[0] + ".fragment_lengths.tsv")
    write_table(hist, hist_path)
    click.echo(f"{out}: {len(table)} barcodes; fragment lengths in {hist_path}")


@main.group()
def genome() -> None:
    """Genome FASTA utilities."""


@genome.command("prepare")
@click.argument("src", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("dst", type=click.Path(dir_okay=False, path_type=Path))
def genome_prepare(src: Path, dst: Path) -> None:
    """Write SRC (FASTA, plain or gzip) as bgzip FASTA DST with .fai and .gzi indexes."""
    from atlasbench.io.genome import open_genome, prepare_fasta

    prepare_fasta(src, dst)
    with open_genome(dst) as g:
        click.echo(f"{dst}: {len(g.names)} sequences, {sum(g.sizes.values()):,} bp")


@genome.command("fetch")
@click.argument("name_or_url")
@click.option(
    "--provider",
    type=click.Choice(["gencode", "ensembl", "ucsc", "ncbi"]),
    help="Fetch the name from this provider only (default: the first that has it).",
)
@click.option(
    "--cache",
    type=click.Path(file_okay=False, path_type=Path),
    help="Genome cache folder (default: $ATLASBENCH_GENOME_CACHE, else ~/.cache/atlasbench/genomes).",
)
def genome_fetch(name_or_url: str, provider: str | None, cache: Path | None) -> None:
    """Fetch a genome by assembly name (mm10, hg38, dm6) or FASTA URL into the cache, once.

    What a study with genome: {name: NAME} (or {url: URL}) does on its first run:
    download through genomepy, keep a bgzip FASTA with .fai/.gzi and genome.json
    (non-N bases per sequence). A genome already cached is not downloaded again. On a
    cluster, run it on a login node so that jobs without internet find the genome.
    """
    from atlasbench.io.genome_fetch import fetch_genome

    fetched = fetch_genome(name_or_url, cache, provider)
    click.echo(
        f"{name_or_url}: {fetched.fasta} ({fetched.provider}; {len(fetched.non_n_bases)} sequences, "
        f"{fetched.effective_size():,} non-N bases)"
    )


@main.command()
@click.argument("study_file", type=click.Path(dir_okay=False, path_type=Path))
def targets(study_file: Path) -> None:
    """Build every target AnnData of a study: ingest, peaks, folds, nested downsampling.

    Artefacts are cached under the study's output folder by content hash: a rerun
    skips finished stages and an interrupted run resumes.
    """
    from atlasbench.study.data_stages import build_all_targets
    from atlasbench.study.loader import load_study

    study = load_study(study_file)
    built = build_all_targets(study)
    for platform, files in built.items():
        for level, path in files.items():
            click.echo(f"{platform}\t{level}\t{path}")


@main.command()
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option(
    "--preset",
    type=click.Choice(["small", "demo", "paper", "large"]),
    default="demo",
    show_default=True,
    help="small (tests), demo (the demo study), paper (the published mouse study's shape at CPU size: "
    "16 cell types, the mouse scenarios, 10 chromosome-block folds), large (100,000 cells at "
    "20,000 reads per cell).",
)
@click.option(
    "--cells",
    type=click.IntRange(min=10),
    help="Cells of the first platform, overriding the preset (the others keep their ratio to it).",
)
@click.option("--seed", default=0, show_default=True, help="Seed: same seed, identical files.")
@click.option(
    "--genome",
    type=click.Path(dir_okay=False, path_type=Path),
    help="FASTA for the sequence background, or the source of its statistics with --genome-length "
    "(default: the bundled real dm6 slice).",
)
@click.option(
    "--genome-length",
    type=click.IntRange(min=10_000),
    metavar="BP",
    help="Plant the motifs into a simulated genome of this many bp, drawn from a 5th-order Markov chain "
    "fitted on the source genome, instead of the real sequence (default: the preset's; the real one).",
)
@click.option(
    "--regions",
    type=click.IntRange(min=1),
    help="Designed regions, overriding the preset (packed down to 100 bp apart when the genome needs it).",
)
def simulate(
    out: Path,
    preset: str,
    cells: int | None,
    seed: int,
    genome: Path | None,
    genome_length: int | None,
    regions: int | None,
) -> None:
    """Write an in-silico scATAC study whose truth is known.

    Real genome sequence (or, with --genome-length, a genome of any size with the real
    one's k-mer statistics) with planted JASPAR motifs following a documented enhancer
    grammar; a 10x-like and a HyDrop-v2-like platform; bgzipped, tabix-indexed
    fragments, cell tables, a promoter GFF, validated enhancers, the truth and a
    study.yaml ready for `atlasbench validate`.
    """
    from atlasbench.simulate.atlas import simulate_atlas

    study = simulate_atlas(
        out,
        preset=preset,
        n_cells=cells,
        seed=seed,
        genome=genome,
        n_regions=regions,
        genome_length=genome_length,
    )
    click.echo(f"study file: {study}")


def _run(
    study, executor: str | None, workers: int | None, until: str | None = None, allow_partial_report: bool = False
):
    """Run a study (see :func:`atlasbench.study.run.run_study`) and print where it ended."""
    from atlasbench.study.run import run_study

    if workers is not None:
        study = study.model_copy(update={"executor": study.executor.model_copy(update={"n_workers": workers})})
    summary = run_study(study, executor, until=until, allow_partial_report=allow_partial_report)
    ran = len(summary.outcomes)
    click.echo(
        f"{ran} job(s) run, {len(summary.skipped)} already done"
        + (f", {len(summary.rebuilt)} rebuilt (damaged artefacts)" if summary.rebuilt else "")
    )
    return summary


@main.command()
@click.argument("study_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--executor",
    type=click.Choice(["local", "dask", "slurm"]),
    help="Where jobs run: here, on Dask or as SLURM jobs (default: the study's executor.kind).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Jobs at once: worker processes here, or of the Dask LocalCluster (overrides executor.n_workers).",
)
@click.option("--until", help="Stop after this job and what it needs (e.g. evaluate); see `atlasbench status`.")
@click.option(
    "--allow-partial-report",
    is_flag=True,
    help="Write the report with a note in place of a section that fails, rather than fail the report job.",
)
def run(
    study_file: Path, executor: str | None, workers: int | None, until: str | None, allow_partial_report: bool
) -> None:
    """Run a whole study: data, the grid of models, evaluation, read-outs, report.

    Every job's artefacts are named by a hash of what made them and written
    atomically: a rerun skips finished jobs, rebuilds damaged artefacts and resumes a
    killed training job from its last epoch. The study is checked before any work.
    A report section that fails fails the report job (the run exits non-zero, naming
    the section and its error) unless --allow-partial-report is given.
    """
    from atlasbench.study.loader import load_study

    summary = _run(load_study(study_file), executor, workers, until, allow_partial_report)
    if summary.report is not None:
        click.echo(f"report: {summary.report}")


@main.command()
@click.argument("study_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--all", "show_all", is_flag=True, help="List every job, not only those not done.")
def status(study_file: Path, show_all: bool) -> None:
    """Show which jobs of a study are done, running, failed, interrupted or pending.

    Jobs submitted to SLURM show SLURM's state (pending, running, cancelled, timeout,
    failed) and their SLURM job id.
    """
    from atlasbench.study.loader import load_study
    from atlasbench.study.run import study_status

    table = study_status(load_study(study_file))
    counts = table["state"].value_counts()
    click.echo(", ".join(f"{n} {state}" for state, n in counts.items()) + f" (of {len(table)} jobs known)")
    shown = table if show_all else table[table["state"] != "done"]
    if len(shown):
        click.echo(shown.fillna("").to_string(index=False))
    if len(table) and (table["job"] == "report").sum() == 0:
        click.echo("the model jobs are listed once the data jobs are done")


@main.command()
@click.option(
    "--out",
    default="atlasbench-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the demo study and its results.",
)
@click.option(
    "--preset",
    type=click.Choice(["small", "demo"]),
    default="demo",
    show_default=True,
    help="Size of the simulated atlas.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the simulated atlas and of its study: another seed, another atlas with the same truth's rules.",
)
@click.option(
    "--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True, help="Where the jobs run."
)
def demo(out: Path, preset: str, seed: int, executor: str) -> None:
    """Simulate an atlas with known truth, run its whole study and write the report.

    Simulates a 10x-like and a HyDrop-v2-like platform on the bundled fly genome
    (once; a rerun reuses it and every finished job), then runs the study: QC, MACS3
    peaks, consensus regions with folds, the grid of degraded datasets, one model per
    grid point, evaluation, Tn5 bias, motifs, validated enhancers, cost and the HTML
    report with every result beside the simulated truth.
    """
    from atlasbench.simulate.atlas import simulated_study
    from atlasbench.study.loader import load_study

    study_file = simulated_study(out, preset=preset, seed=seed)
    summary = _run(load_study(study_file), executor, None)  # strict: a report section that fails fails the demo
    click.echo(f"study file: {study_file}")
    if summary.report is not None:
        click.echo(f"report: {summary.report}")


def _params(pairs: tuple[str, ...]) -> dict[str, object]:
    """``KEY=VALUE`` model parameters; values parsed as YAML scalars (64, 0.5, softplus)."""
    import yaml

    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--param")
        params[key] = yaml.safe_load(value)
    return params


@main.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Model folder (sequence tables only; default: next to the table).",
)
@click.option(
    "--genome",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Genome FASTA for a table of chrom/start/end coordinates.",
)
@click.option("--input-length", type=click.IntRange(min=1), help="Model input length in bp (sequence tables).")
@click.option("--target", "target_columns", multiple=True, help="Target column (repeatable; default: all numeric).")
@click.option("--architecture", default="dilated_cnn", show_default=True, help="Model architecture.")
@click.option(
    "--preset",
    type=click.Choice(["tiny", "paper"]),
    default="tiny",
    show_default=True,
    help="Model size: tiny (CPU) or paper (GPU).",
)
@click.option("--param", "param_pairs", multiple=True, metavar="KEY=VALUE", help="Model parameter override.")
@click.option(
    "--loss",
    type=click.Choice(["cosine_mse_log", "mse", "poisson"]),
    default="mse",
    show_default=True,
    help="Training loss (sequence tables).",
)
@click.option("--epochs", type=click.IntRange(min=1), default=60, show_default=True, help="Epoch limit.")
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True, help="Batch size.")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True)
@click.option(
    "--folds",
    "k",
    type=click.IntRange(min=3),
    default=10,
    show_default=True,
    help="Random folds when the table has no fold column.",
)
@click.option("--test-fold", type=click.IntRange(min=0), default=0, show_default=True, help="Held-out test fold.")
@click.option("--seed", default=7, show_default=True, help="Seed of folds and training.")
def train(
    source: Path,
    out: Path | None,
    genome: Path | None,
    input_length: int | None,
    target_columns: tuple[str, ...],
    architecture: str,
    preset: str,
    param_pairs: tuple[str, ...],
    loss: Literal["cosine_mse_log", "mse", "poisson"],  # the --loss choices
    epochs: int,
    batch_size: int,
    learning_rate: float,
    k: int,
    test_fold: int,
    seed: int,
) -> None:
    """Train S2F models: every grid job of a STUDY.yaml, or one model on a sequence TABLE.

    With a study file, builds the targets if needed, then trains one model per platform,
    grid level, test fold and seed with the study's model and training sections, and
    evaluates each on its test fold against its own targets, its platform's full data
    and the other platforms' (tidy table under the output folder). Finished models are
    reused and a killed run resumes from its last epoch.

    With a table (TSV/CSV with a `sequence` column, or chrom/start/end and --genome, and
    numeric target columns, e.g. STARR-seq or MPRA activity), trains one model on it and
    writes the model folder with its test-fold evaluation.
    """
    from atlasbench.models.settings import Training

    if source.suffix in (".yaml", ".yml"):
        from atlasbench.study.loader import load_study
        from atlasbench.study.run import evaluation_table, run_study

        study = load_study(source)
        run_study(study, until="evaluate")
        table = evaluation_table(study)
        summary = table[(table["metric"] == "pearson_mean") & (table["against"] == "own")]
        click.echo(summary.groupby(["platform", "level"])["value"].agg(["mean", "std", "count"]).to_string())
        return
    from atlasbench.models.seqtable import read_sequence_table, train_on_table

    if input_length is None:
        raise click.UsageError("--input-length is required for a sequence table")
    training = Training(loss=loss, max_epochs=epochs, batch_size=batch_size, learning_rate=learning_rate)
    table = read_sequence_table(
        source, input_length + 2 * training.max_shift, genome=genome, targets=list(target_columns) or None
    )
    out = out or source.with_name(source.name.split(".")[0] + "-model")
    evaluation = train_on_table(
        table,
        out,
        input_length=input_length,
        training=training,
        architecture=architecture,
        preset=preset,
        params=_params(param_pairs),
        seed=seed,
        k=k,
        test_fold=test_fold,
    )
    click.echo(evaluation.to_string(index=False))
    click.echo(f"model: {out}")


@main.command()
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.argument("sequences", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--genome", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Genome FASTA for a BED input."
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Output TSV (default: stdout).")
def predict(model: Path, sequences: Path, genome: Path | None, out: Path | None) -> None:
    """Predict per-cell-type accessibility with a trained MODEL folder or a bundle file.

    MODEL is a model folder of a study, or a bundle written by `atlasbench export`
    (a fold ensemble predicts the mean of its models). SEQUENCES is a FASTA file
    (sequences shorter than the model input are padded with N, longer ones scored by
    their best window) or a BED file of regions (with --genome; the input-length window
    centred on each region; a bundle refuses a genome whose chromosomes differ from its
    training genome's). Every prediction averages the sequence and its reverse complement.
    """
    from atlasbench.models.bundle import is_bundle, load_bundle, predict_bundle
    from atlasbench.models.predict import is_bed, predict_bed, predict_fasta
    from atlasbench.models.trained import load_trained

    if is_bed(sequences) and genome is None:
        raise click.UsageError("a BED input needs --genome")
    if is_bundle(model):
        table = predict_bundle(load_bundle(model), sequences, genome=genome)
    else:
        trained = load_trained(model)
        if is_bed(sequences):
            assert genome is not None  # a BED input without --genome is refused above
            table = predict_bed(trained, sequences, genome)
        else:
            table = predict_fasta(trained, sequences)
    if out is None:
        click.echo(table.to_csv(sep="\t", index=False, float_format="%.6g"), nl=False)
    else:
        from atlasbench.io.atomic import atomic_path

        with atomic_path(out) as tmp:
            table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        click.echo(f"{len(table)} predictions: {out}")


@main.command("export")
@click.argument("study_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--platform", help="Platform of the models (required with --level; a --scenario names its own).")
@click.option(
    "--level",
    help="Grid level key, e.g. reads-all_cells-all (the full data) or reads-5000_cells-1000; "
    "`atlasbench status STUDY.yaml --all` lists the trained ones.",
)
@click.option("--scenario", help="Named scenario of the study's grid.scenarios, instead of --level.")
@click.option(
    "--fold",
    type=click.IntRange(min=0),
    help="Export this test fold's model only (default: the ensemble of every test fold and seed).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bundle file to write, e.g. 10x-full.zip.",
)
def export(
    study_file: Path, platform: str | None, level: str | None, scenario: str | None, fold: int | None, out: Path
) -> None:
    """Write the trained models of one grid point of a study as one shareable bundle file.

    The bundle holds the weights (safetensors) of one model (--fold) or of the fold
    ensemble, and what is needed to use them elsewhere: architecture and parameters,
    input length, cell types, target normalisation, genome name and chromosome sizes,
    each model's fold, seed and test-fold metrics (from the study's evaluation). Use
    it with `atlasbench predict BUNDLE FASTA|BED` or atlasbench.models.bundle.predict_bundle.
    """
    from atlasbench.study.export import export_study, scenario_level
    from atlasbench.study.loader import load_study

    if (level is None) == (scenario is None):
        raise click.UsageError("give --level or --scenario (one of them)")
    study = load_study(study_file)
    if scenario is not None:
        named_platform, level = scenario_level(study, scenario)
        if platform is not None and platform != named_platform:
            raise click.UsageError(f"scenario {scenario!r} is of platform {named_platform!r}, not {platform!r}")
        platform = named_platform
    elif platform is None:
        raise click.UsageError("--level needs --platform")
    assert level is not None  # given, or the scenario's
    export_study(study, out, platform, level, fold)
    click.echo(f"{out}: {platform} {level}" + (f", test fold {fold}" if fold is not None else ", every test fold"))


@main.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--enhancers",
    "table",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Enhancer table: name, sequence or chrom/start/end, target_cell_type, label.",
)
@click.option(
    "--genome",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Genome FASTA, for enhancers given as coordinates.",
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
def enhancers(models: tuple[Path, ...], table: Path, genome: Path | None, out: Path) -> None:
    """Score in vivo validated enhancers with one MODEL folder or a fold ensemble of several.

    Predictions are averaged over the models (and both strands), normalised to
    specificity, and summarised per cell type (auROC, auPRC) and per enhancer (rank of
    its target cell type); writes tables and ROC curves to --out.
    """
    from atlasbench.models.trained import load_trained
    from atlasbench.readouts.enhancers import read_enhancers, score_enhancers, write_enhancer_report

    validated = read_enhancers(table)
    scores = score_enhancers([load_trained(m) for m in models], validated, genome)
    paths = write_enhancer_report(scores, validated, out)
    import pandas as pd

    per_type = pd.read_csv(paths["per_cell_type"], sep="\t")
    click.echo(per_type.to_string(index=False))


@main.command()
@click.argument("evaluation", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--study",
    "study_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Study YAML: the platforms' cost figures (and reference platform).",
)
@click.option("--target", type=float, help="Accuracy to reach (default: 95% of the lowest attainable plateau).")
@click.option("--metric", default="pearson_mean", show_default=True, help="Evaluation metric used as accuracy.")
@click.option("--against", default="full", show_default=True, help="Targets compared with: full, own, platform:NAME.")
@click.option("--reference", help="Platform the others are compared with (default: the study's reference).")
@click.option("--model", help="Architecture to use when the table holds several.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
def cost(
    evaluation: Path,
    study_file: Path,
    target: float | None,
    metric: str,
    against: str,
    reference: str | None,
    model: str | None,
    out: Path,
) -> None:
    """Cost of every design, saturation of accuracy, and the cheapest design per platform.

    EVALUATION is the evaluation table (.parquet or .tsv) that `atlasbench train
    STUDY.yaml` writes under <output>/evaluation/. Writes designs.tsv, saturation.tsv,
    cheapest.tsv, summary.txt and the saturation and cost-frontier figures to --out,
    and prints the summary. A platform with sequenced_reads is charged the sequenced
    reads its designs need (usable reads / its usable fraction, read from the study's
    ingested data).
    """
    from atlasbench.readouts.cost import cost_report, read_evaluation
    from atlasbench.study.data_stages import study_usable_fractions
    from atlasbench.study.loader import load_study

    study = load_study(study_file, check_files=False)
    fractions = study_usable_fractions(study)
    for platform, fraction in fractions.items():
        log.info("%s: charged per sequenced read pair (usable fraction %.3f)", platform, fraction)
    paths = cost_report(
        read_evaluation(evaluation),
        study,
        target=target,
        metric=metric,
        against=against,
        out=out,
        reference_platform=reference,
        model=model,
        usable_fraction=fractions,
    )
    click.echo(paths["summary"].read_text(), nl=False)
    click.echo(f"tables and figures: {out}")


@main.command()
@click.option(
    "--genome",
    "genome_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Genome FASTA the fragments were aligned to (plain or bgzip, indexed).",
)
@click.option(
    "--fragments",
    "fragment_pairs",
    required=True,
    multiple=True,
    metavar="NAME=PATH",
    help="A platform's fragments file (repeatable; repeat a NAME to pool its files).",
)
@click.option(
    "--cells",
    "cell_pairs",
    multiple=True,
    metavar="NAME=CELLS.tsv",
    help="Cell table (barcode, cell_type) of a platform: count only its cells' fragments.",
)
@click.option(
    "--flank", type=click.IntRange(min=1), default=10, show_default=True, help="Bases each side of the insertion site."
)
@click.option(
    "--max-fragments",
    type=click.IntRange(min=0),
    default=2_000_000,
    show_default=True,
    help="Fragments per platform, a seeded uniform subsample (0: all).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the subsample.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
def tn5(
    genome_path: Path,
    fragment_pairs: tuple[str, ...],
    cell_pairs: tuple[str, ...],
    flank: int,
    max_fragments: int,
    seed: int,
    out: Path,
) -> None:
    """Tn5 insertion sequence bias per platform and how alike the platforms are.

    Counts the bases around both ends of every fragment (strand-aware) into a position
    frequency matrix and log-odds against the genome; compares every pair of platforms
    (Pearson of log-odds, Jensen-Shannon divergence); writes tn5_pfm.tsv,
    tn5_similarity.tsv and tn5_logos.png/.pdf to --out and prints the similarity table.
    """
    from atlasbench.data.ingest import default_sample_name, read_cell_table
    from atlasbench.readouts.tn5 import insertion_pfm, write_bias

    def pairs(values: tuple[str, ...], option: str) -> dict[str, list[Path]]:
        named: dict[str, list[Path]] = {}
        for value in values:
            name, sep, path = value.partition("=")
            if not sep or not name or not path:
                raise click.BadParameter(f"expected NAME=PATH, got {value!r}", param_hint=option)
            named.setdefault(name, []).append(Path(path))
        return named

    platforms = pairs(fragment_pairs, "--fragments")
    cell_tables = pairs(cell_pairs, "--cells")
    for name, tables in cell_tables.items():
        if name not in platforms:
            raise click.BadParameter(f"no --fragments for platform {name!r}", param_hint="--cells")
        if len(tables) > 1:
            raise click.BadParameter(f"one cell table per platform; {name!r} has {len(tables)}", param_hint="--cells")
    biases = {}
    for name, paths in platforms.items():
        cells = None
        if name in cell_tables:
            table = read_cell_table(cell_tables[name][0], [default_sample_name(p) for p in paths])
            cells = table["barcode"].unique()
        biases[name] = insertion_pfm(
            paths, genome_path, flank=flank, max_fragments=max_fragments or None, cells=cells, seed=seed
        )
    written = write_bias(biases, out)
    import pandas as pd

    similarity = pd.read_csv(written["similarity"], sep="\t")
    if len(similarity):
        click.echo(similarity.to_string(index=False))
    else:
        click.echo("one platform: no pair to compare")
    click.echo(f"tables and logos in {out}")


def _one_or_two_models(models: tuple[Path, ...], cell_types: list[str]) -> list:
    """Load one model folder, or two to compare, checking they take the same input length
    and both predict every one of ``cell_types``."""
    from atlasbench.models.trained import load_trained

    if len(models) > 2:
        raise click.UsageError("give one model, or two to compare")
    trained = [load_trained(m) for m in models]
    for model in trained:
        missing = [c for c in cell_types if c not in model.cell_types]
        if missing:
            raise AtlasbenchError(f"{model.path}: no output {missing[0]!r}; outputs: {', '.join(model.cell_types)}")
        if model.input_length != trained[0].input_length:
            raise AtlasbenchError("the two models take inputs of different lengths")
    return trained


@main.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--regions",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="BED of regions (with --genome) or FASTA of sequences of the model's input length.",
)
@click.option("--genome", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Genome FASTA for a BED.")
@click.option("--cell-type", required=True, help="Output (cell type) to explain.")
@click.option("--steps", default=32, show_default=True, type=click.IntRange(min=1), help="Integration steps.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
def explain(
    models: tuple[Path, ...], regions: Path, genome: Path | None, cell_type: str, steps: int, out: Path
) -> None:
    """Contribution scores (integrated gradients) of one or two MODEL folders for a cell type.

    With two models (e.g. HyDrop- and 10x-trained) also writes their per-region
    agreement. Writes the scores (.npz), a tidy summary, and the logo of the region
    with the largest contribution.
    """
    from atlasbench.models.predict import input_windows
    from atlasbench.readouts.contributions import integrated_gradients, write_contributions

    trained = _one_or_two_models(models, [cell_type])
    names, codes = input_windows(regions, genome, trained[0].input_length)
    scores = {}
    for i, model in enumerate(trained):
        label = f"model{i + 1}" if len(trained) > 1 else "model"
        scores[label], _ = integrated_gradients(model.module, codes, model.cell_types.index(cell_type), steps=steps)
    paths = write_contributions(scores, names, codes, out, f"{cell_type}, integrated gradients")
    for kind, path in paths.items():
        click.echo(f"{kind}\t{path}")


@main.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--regions",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Candidate regions: BED (with --genome) or FASTA of sequences up to the model's input length.",
)
@click.option("--genome", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Genome FASTA for a BED.")
@click.option("--cell-type", "cell_types", multiple=True, help="Cell type to analyse (repeatable; default: all).")
@click.option(
    "--top-regions",
    default=500,
    show_default=True,
    type=click.IntRange(min=1),
    help="Most specific regions explained per cell type.",
)
@click.option(
    "--jaspar-group",
    default=None,
    help="JASPAR taxonomic group to match against (insects, vertebrates, ...; default: all of CORE).",
)
@click.option(
    "--scores",
    default="gradient",
    show_default=True,
    type=click.Choice(["gradient", "integrated_gradients"]),
    help="Contribution scores: gradient x input, or integrated gradients from the all-zero baseline.",
)
@click.option(
    "--steps",
    default=32,
    show_default=True,
    type=click.IntRange(min=1),
    help="Integration steps (with --scores integrated_gradients).",
)
@click.option(
    "--max-seqlets",
    default=2000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Most seqlets clustered per cell type and sign.",
)
@click.option(
    "--leiden-runs",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="Leiden clustering runs of TF-MoDISco.",
)
@click.option(
    "--q-value",
    "q_threshold",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Largest TOMTOM q-value counted as a JASPAR match.",
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
def motifs(
    models: tuple[Path, ...],
    regions: Path,
    genome: Path | None,
    cell_types: tuple[str, ...],
    top_regions: int,
    jaspar_group: str | None,
    scores: Literal["gradient", "integrated_gradients"],
    steps: int,
    max_seqlets: int,
    leiden_runs: int,
    q_threshold: float,
    out: Path,
) -> None:
    """TF-MoDISco motifs of one or two MODEL folders per cell type, matched to JASPAR.

    Each cell type's most specific regions (by the model's predictions) are explained
    with gradient x input (or integrated gradients); TF-MoDISco clusters the contribution scores into
    patterns, and TOMTOM matches each pattern to the JASPAR CORE motifs. With two
    models (e.g. HyDrop- and 10x-trained) also writes which matched motifs they share.
    """
    import pandas as pd

    from atlasbench.io.jaspar import jaspar_collection
    from atlasbench.models.predict import input_windows
    from atlasbench.models.trained import load_trained
    from atlasbench.readouts.motifs import discover_motifs, matched_motifs, write_motifs

    chosen = list(cell_types) or load_trained(models[0]).cell_types
    trained = _one_or_two_models(models, chosen)
    _, codes = input_windows(regions, genome, trained[0].input_length)
    targets = jaspar_collection(jaspar_group)
    tables, patterns = [], {}
    for i, model in enumerate(trained):
        label = model.path.name if len(trained) == 1 or model.path.name != trained[1 - i].path.name else f"model{i + 1}"
        table, found = discover_motifs(
            model.module,
            model.cell_types,
            codes,
            chosen,
            targets,
            n_regions=top_regions,
            scores=scores,
            steps=steps,
            max_seqlets=max_seqlets,
            leiden_runs=leiden_runs,
        )
        table.insert(0, "model", label)
        tables.append(table)
        patterns.update({(label, c): p for c, p in found.items()})
    table = pd.concat(tables, ignore_index=True)
    write_motifs(table, patterns, targets, out, q_threshold=q_threshold)
    best = matched_motifs(table, q_threshold)
    if len(best):
        click.echo(best[["model", "cell_type", "pattern", "n_seqlets", "match", "q_value"]].to_string(index=False))
    else:
        click.echo(f"no pattern matched a JASPAR motif at q <= {q_threshold}")
    click.echo(f"tables and logos in {out}")


if __name__ == "__main__":  # pragma: no cover
    main()
