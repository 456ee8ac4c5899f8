"""Predictions on codes, sequences, FASTA and BED files, and the ``atlasbench predict`` command."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from atlasbench.cli import main
from atlasbench.errors import AtlasbenchError
from atlasbench.io.genome import base_codes, open_genome, prepare_fasta, region_codes
from atlasbench.models.architectures import build_model, model_params
from atlasbench.models.dataset import reverse_complement_codes
from atlasbench.models.predict import pad_codes, predict, predict_bed, predict_fasta, predict_sequences
from atlasbench.models.trained import TrainedModel, load_trained, save_trained

DM6 = Path(__file__).parent / "data" / "dm6_1pct.fa.gz"
LENGTH = 300
PARAMS = {"filters": 8, "n_dil_layers": 4}
CELL_TYPES = ["neuron", "glia", "muscle"]


def seeded_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model("dilated_cnn", len(CELL_TYPES), LENGTH, "tiny", PARAMS).eval()


def random_sequence(length: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list("ACGT"), size=length))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = {
        "architecture": "dilated_cnn",
        "preset": "tiny",
        "params": model_params("dilated_cnn", "tiny", PARAMS),
        "input_length": LENGTH,
        "cell_types": CELL_TYPES,
    }
    return save_trained(tmp_path_factory.mktemp("predict") / "model", seeded_model(1), spec)


@pytest.fixture(scope="module")
def trained(model_dir: Path) -> TrainedModel:
    return load_trained(model_dir)


@pytest.fixture(scope="module")
def genome(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_fasta(DM6, tmp_path_factory.mktemp("genome") / "dm6.fa.gz")


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="atlasbench")


# -- predict on codes -------------------------------------------------------------------


def test_reverse_complement_gets_the_same_prediction() -> None:
    model = seeded_model(0)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(6, LENGTH), dtype=np.uint8)
    codes[0, :40] = 4  # N stays N on the other strand
    rc = reverse_complement_codes(torch.from_numpy(codes)).numpy()
    forward = predict(model, codes, device="cpu")
    assert forward.shape == (6, 3)
    assert forward.dtype == np.float32
    np.testing.assert_allclose(forward, predict(model, rc, device="cpu"), rtol=1e-6, atol=1e-7)
    # one strand only: the untrained model is not strand-symmetric
    one_strand = predict(model, codes, device="cpu", reverse_complement=False)
    other_strand = predict(model, rc, device="cpu", reverse_complement=False)
    assert not np.allclose(one_strand, other_strand, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(forward, (one_strand + other_strand) / 2, rtol=1e-5, atol=1e-7)


def test_predict_is_the_model_output_in_eval_mode() -> None:
    model = seeded_model(2).train()
    codes = np.random.default_rng(1).integers(0, 5, size=(5, LENGTH), dtype=np.uint8)
    got = predict(model, codes, device="cpu", reverse_complement=False, batch_size=2)
    assert not model.training
    x = torch.nn.functional.one_hot(torch.from_numpy(codes).long(), 5)[..., :4].permute(0, 2, 1).float()
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    # batching does not change the result
    np.testing.assert_allclose(predict(model, codes, device="cpu", batch_size=5),
                               predict(model, codes, device="cpu", batch_size=2), rtol=1e-5, atol=1e-7)


def test_pad_codes() -> None:
    codes = np.array([0, 1, 2], dtype=np.uint8)
    np.testing.assert_array_equal(pad_codes(codes, 8), [4, 4, 0, 1, 2, 4, 4, 4])
    np.testing.assert_array_equal(pad_codes(codes, 7), [4, 4, 0, 1, 2, 4, 4])
    np.testing.assert_array_equal(pad_codes(codes, 3), codes)
    np.testing.assert_array_equal(pad_codes(codes, 4), [0, 1, 2, 4])
    assert pad_codes(codes, 8).dtype == np.uint8


# -- sequences of any length ------------------------------------------------------------


def test_short_sequence_is_padded(trained: TrainedModel) -> None:
    seq = random_sequence(101, 3)
    got = predict_sequences(trained, [seq.lower()], device="cpu")
    padded = np.full(LENGTH, 4, np.uint8)
    padded[99:200] = base_codes(seq)  # 199 missing bases: 99 on the left, 100 on the right
    np.testing.assert_array_equal(got, predict(trained.module, padded[None], device="cpu"))


def test_exact_length_sequence_is_one_window(trained: TrainedModel) -> None:
    seq = random_sequence(LENGTH, 4)
    got = predict_sequences(trained, [seq], device="cpu")
    np.testing.assert_array_equal(got, predict(trained.module, base_codes(seq)[None], device="cpu"))


def test_long_sequence_keeps_best_window_per_output(trained: TrainedModel) -> None:
    seq = random_sequence(LENGTH + 47, 5)
    codes = base_codes(seq)
    starts = [0, 10, 20, 30, 40, 47]  # every 10 bp, and the last window ending at the end
    windows = np.stack([codes[s : s + LENGTH] for s in starts])
    per_window = predict(trained.module, windows, device="cpu")
    got = predict_sequences(trained, [seq], device="cpu")
    np.testing.assert_array_equal(got[0], per_window.max(axis=0))
    # stride 20: 0, 20, 40 and the end window 47
    got20 = predict_sequences(trained, [seq], stride=20, device="cpu")
    np.testing.assert_array_equal(got20[0], per_window[[0, 2, 4, 5]].max(axis=0))


def test_mixed_lengths_keep_order(trained: TrainedModel) -> None:
    seqs = [random_sequence(LENGTH + 25, 6), random_sequence(50, 7), random_sequence(LENGTH, 8)]
    together = predict_sequences(trained, seqs, device="cpu", batch_size=3)
    assert together.shape == (3, 3)
    for i, seq in enumerate(seqs):
        np.testing.assert_allclose(together[i], predict_sequences(trained, [seq], device="cpu")[0],
                                   rtol=1e-5, atol=1e-7)
    assert predict_sequences(trained, [], device="cpu").shape == (0, 3)


# -- FASTA --------------------------------------------------------------------------------


def test_predict_fasta(trained: TrainedModel, tmp_path: Path) -> None:
    seqs = {"short": random_sequence(120, 9), "long": random_sequence(LENGTH + 33, 10),
            "exact": "N" * 10 + random_sequence(LENGTH - 10, 11)}
    text = ">short some description\n" + seqs["short"][:60] + "\n" + seqs["short"][60:].lower() + "\n\n"
    text += ">long\n" + "\n".join(seqs["long"][i : i + 80] for i in range(0, len(seqs["long"]), 80)) + "\n"
    text += ">exact\n" + seqs["exact"] + "\n"
    path = tmp_path / "seqs.fa"
    path.write_text(text)
    table = predict_fasta(trained, path, device="cpu")
    assert list(table.columns) == ["name", "length", *CELL_TYPES]
    assert table["name"].tolist() == ["short", "long", "exact"]
    assert table["length"].tolist() == [120, LENGTH + 33, LENGTH]
    expected = predict_sequences(trained, list(seqs.values()), device="cpu")
    np.testing.assert_allclose(table[CELL_TYPES].to_numpy(), expected, rtol=1e-5, atol=1e-7)
    # gzip FASTA gives the same table
    gz = tmp_path / "seqs.fa.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(text)
    pd.testing.assert_frame_equal(predict_fasta(trained, gz, device="cpu"), table, rtol=1e-5)


def test_fasta_with_non_dna_characters(trained: TrainedModel, tmp_path: Path) -> None:
    path = tmp_path / "protein.fa"
    path.write_text(">ok\nACGTN\n>bad\nACGT\nACXGTR\n")
    with pytest.raises(AtlasbenchError, match="characters 'RX' are not DNA") as info:
        predict_fasta(trained, path, device="cpu")
    assert str(info.value).startswith(f"{path}:5:")


def test_fasta_format_errors(trained: TrainedModel, tmp_path: Path) -> None:
    headless = tmp_path / "headless.fa"
    headless.write_text("\nACGT\n>x\nACGT\n")
    with pytest.raises(AtlasbenchError, match="sequence before the first '>' header") as info:
        predict_fasta(trained, headless)
    assert str(info.value).startswith(f"{headless}:2:")
    empty = tmp_path / "empty.fa"
    empty.write_text("\n")
    with pytest.raises(AtlasbenchError, match="no FASTA records found"):
        predict_fasta(trained, empty)
    with pytest.raises(AtlasbenchError, match="cannot read FASTA"):
        predict_fasta(trained, tmp_path / "absent.fa")
    truncated = tmp_path / "truncated.fa.gz"
    truncated.write_bytes(gzip.compress((">x\n" + random_sequence(20_000, 14) + "\n").encode())[:2000])
    with pytest.raises(AtlasbenchError, match="cannot read FASTA") as info:
        predict_fasta(trained, truncated)
    assert str(truncated) in str(info.value)


# -- BED ----------------------------------------------------------------------------------


def test_predict_bed_matches_region_windows(trained: TrainedModel, genome: Path, tmp_path: Path) -> None:
    rows = [("2L", 1000, 1500, "a"), ("X", 20_000, 20_100, "b"), ("4", 13_300, 13_481, "edge"), ("2R", 0, 50, "start")]
    bed = tmp_path / "regions.bed"
    bed.write_text("".join(f"{c}\t{s}\t{e}\t{n}\n" for c, s, e, n in rows))
    table = predict_bed(trained, bed, genome, device="cpu")
    assert list(table.columns) == ["name", "chrom", "start", "end", *CELL_TYPES]
    assert table["name"].tolist() == ["a", "b", "edge", "start"]
    assert table["chrom"].tolist() == ["2L", "X", "4", "2R"]
    assert table["start"].tolist() == [r[1] for r in rows]
    with open_genome(genome) as fasta:
        codes, kept = region_codes(fasta, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], LENGTH)
    assert kept.tolist() == [0, 1, 2, 3]
    assert (codes[2:] == 4).any()  # the windows at chromosome ends are N-padded
    expected = predict(trained.module, codes, device="cpu")
    np.testing.assert_array_equal(table[CELL_TYPES].to_numpy(), expected)

    # UCSC names (chr prefix), no name column: names are built from the coordinates
    prefixed = tmp_path / "ucsc.bed"
    prefixed.write_text("".join(f"chr{c}\t{s}\t{e}\n" for c, s, e, _ in rows))
    ucsc = predict_bed(trained, prefixed, genome, device="cpu")
    assert ucsc["chrom"].tolist() == ["chr2L", "chrX", "chr4", "chr2R"]
    assert ucsc["name"].tolist() == [f"chr{c}:{s}-{e}" for c, s, e, _ in rows]
    np.testing.assert_array_equal(ucsc[CELL_TYPES].to_numpy(), expected)


def test_predict_bed_unknown_chromosome(trained: TrainedModel, genome: Path, tmp_path: Path) -> None:
    bed = tmp_path / "human.bed"
    bed.write_text("2L\t100\t200\nchr17\t100\t200\n")
    with pytest.raises(AtlasbenchError, match=r"chromosomes not in the genome .*: chr17") as info:
        predict_bed(trained, bed, genome)
    assert str(info.value).startswith(str(bed))


# -- command line -------------------------------------------------------------------------


def test_cli_predict_fasta(model_dir: Path, trained: TrainedModel, tmp_path: Path) -> None:
    fasta = tmp_path / "seqs.fa"
    fasta.write_text(f">one\n{random_sequence(200, 12)}\n>two\n{random_sequence(LENGTH + 5, 13)}\n")
    out = tmp_path / "pred.tsv"
    result = run("predict", model_dir, fasta, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"2 predictions: {out}" in result.output
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == ["name", "length", *CELL_TYPES]
    assert table["name"].tolist() == ["one", "two"]
    expected = predict_fasta(trained, fasta)
    np.testing.assert_allclose(table[CELL_TYPES].to_numpy(), expected[CELL_TYPES].to_numpy(), rtol=1e-5)
    # without --out the table goes to stdout
    stdout = run("predict", model_dir, fasta)
    assert stdout.exit_code == 0, stdout.output
    assert stdout.output.splitlines()[0].split("\t") == ["name", "length", *CELL_TYPES]
    assert len(stdout.output.splitlines()) == 3


def test_cli_predict_bed(model_dir: Path, genome: Path, tmp_path: Path) -> None:
    bed = tmp_path / "peaks.bed"
    bed.write_text("chr2L\t5000\t5500\tp1\nchr3R\t100000\t100400\tp2\n")
    out = tmp_path / "bed.tsv"
    result = run("predict", model_dir, bed, "--genome", genome, "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == ["name", "chrom", "start", "end", *CELL_TYPES]
    assert table["name"].tolist() == ["p1", "p2"]
    assert (table[CELL_TYPES].to_numpy() >= 0).all()


def test_cli_bed_needs_genome(model_dir: Path, tmp_path: Path) -> None:
    bed = tmp_path / "peaks.bed"
    bed.write_text("2L\t5000\t5500\n")
    result = run("predict", model_dir, bed, "--out", tmp_path / "x.tsv")
    assert result.exit_code == 2
    assert "a BED input needs --genome" in result.output
    assert not (tmp_path / "x.tsv").exists()


def test_cli_bad_fasta_is_a_one_line_error(model_dir: Path, tmp_path: Path) -> None:
    fasta = tmp_path / "bad.fa"
    fasta.write_text(">x\nACGU\n")
    result = run("predict", model_dir, fasta)
    assert result.exit_code == 2
    assert f"error: {fasta}:2: characters 'U' are not DNA" in result.output
    assert "Traceback" not in result.output
