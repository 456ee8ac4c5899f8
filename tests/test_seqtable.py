"""Tests for atlasbench.models.seqtable: sequence tables (MPRA, STARR-seq) as S2F training data."""

from __future__ import annotations

import gzip
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atlasbench.errors import AtlasbenchError
from atlasbench.io.genome import base_codes, open_genome, prepare_fasta, region_codes
from atlasbench.models.seqtable import SequenceTable, read_sequence_table

DM6 = Path(__file__).parent / "data" / "dm6_1pct.fa.gz"


@pytest.fixture(scope="module")
def genome(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dm6 slice as an indexed bgzip FASTA (chromosomes 2L, 2R, ... without ``chr``)."""
    return prepare_fasta(DM6, tmp_path_factory.mktemp("genome") / "dm6.fa.gz")


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``, gzip-compressed when the name ends in ``.gz``."""
    data = text.encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def centred(seq: str, length: int) -> str:
    """Reference placement: pad with N (odd one on the right) or crop (odd base off the right)."""
    if len(seq) <= length:
        left = (length - len(seq)) // 2
        return "N" * left + seq + "N" * (length - len(seq) - left)
    left = (len(seq) - length) // 2
    return seq[left : left + length]


def test_sequences_with_two_targets_round_trip(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(
        tmp_path / "mpra.tsv",
        "name\tsequence\tnote\tactivity\tfold\tstd\n"
        "e1\tACGT\tshort\t1.5\t0\t0.1\n"
        "e2\tacgtn\tlower case\t-2\t1\t0.2\n"
        "e3\tGATTACAG\texact\t0\t2\t0.3\n"
        "e4\tGATTACAGATC\tlong\t1e3\t0\t0.4\n"
        "e5\tTTTGGGCCCA\teven crop\t7\t1\t0.5\n",
    )
    with caplog.at_level(logging.INFO, logger="atlasbench.models.seqtable"):
        table = read_sequence_table(path, 8)
    assert isinstance(table, SequenceTable)
    # Hand-placed windows: pad (8 - l) // 2 N on the left, crop (l - 8) // 2 off the left.
    padded = ["NNACGTNN", "NacgtnNN", "GATTACAG", "ATTACAGA", "TTGGGCCC"]
    assert [centred(s, 8) for s in ["ACGT", "acgtn", "GATTACAG", "GATTACAGATC", "TTTGGGCCCA"]] == padded
    assert table.codes.dtype == np.uint8 and table.codes.shape == (5, 8)
    np.testing.assert_array_equal(table.codes, base_codes(padded))
    assert table.names == ["e1", "e2", "e3", "e4", "e5"]
    # The text column 'note' holds no number, so it is not a target; file order is kept.
    assert table.target_names == ["activity", "std"]
    assert table.targets.dtype == np.float32
    np.testing.assert_array_equal(
        table.targets, np.array([[1.5, 0.1], [-2, 0.2], [0, 0.3], [1000, 0.4], [7, 0.5]], dtype=np.float32)
    )
    assert table.fold is not None and table.fold.dtype == np.int64
    np.testing.assert_array_equal(table.fold, [0, 1, 2, 0, 1])
    assert table.regions is None
    assert "2 of 5 sequences padded with N and 2 centre-cropped to 8 bp" in caplog.text


@pytest.mark.parametrize("length", [1, 6, 7, 12, 13])
def test_padding_and_cropping_of_mixed_lengths(tmp_path: Path, length: int) -> None:
    # Lengths interleaved in file order, so rows grouped by length must land back in place.
    rng = np.random.default_rng(length)
    seqs = ["".join(rng.choice(list("ACGTN"), size=n)) for n in [9, 1, 13, 6, 9, 2, 7, 20, 1, 12, 6]]
    rows = "".join(f"{s},{i}\n" for i, s in enumerate(seqs))
    table = read_sequence_table(write(tmp_path / "t.csv", "sequence,y\n" + rows), length)
    np.testing.assert_array_equal(table.codes, base_codes([centred(s, length) for s in seqs]))
    np.testing.assert_array_equal(table.targets[:, 0], np.arange(len(seqs)))
    assert table.names == [f"seq{i}" for i in range(len(seqs))]
    assert table.fold is None


def test_hand_checked_placement(tmp_path: Path) -> None:
    table = read_sequence_table(write(tmp_path / "t.txt", "sequence\ty\nA\t1\nAC\t2\nACGTA\t3\n"), 4)
    # A -> N A N N (1 N left, odd N right); AC -> N A C N; ACGTA -> ACGT (odd base cut on the right).
    np.testing.assert_array_equal(table.codes, [[4, 0, 4, 4], [4, 0, 1, 4], [0, 1, 2, 3]])
    table = read_sequence_table(write(tmp_path / "u.txt", "sequence\ty\nACGTAC\t1\n"), 3)
    np.testing.assert_array_equal(table.codes, [[1, 2, 3]])  # 'A' off the left, 'AC' off the right


def test_targets_argument_selects_and_orders(tmp_path: Path) -> None:
    path = write(tmp_path / "t.tsv", "sequence\ta\tb\tc\nACGT\t1\t2\t3\nTTTT\t4\t5\tx\n")
    table = read_sequence_table(path, 4, targets=["b", "a"])
    assert table.target_names == ["b", "a"]
    np.testing.assert_array_equal(table.targets, [[2, 1], [5, 4]])


def test_coordinates_equal_region_codes(tmp_path: Path, genome: Path) -> None:
    chrom = ["2L", "X", "2R", "2L"]
    start = [1000, 5, 20000, 7000]
    end = [1300, 50, 20001, 7400]
    rows = "".join(f"{c}\t{s}\t{e}\t{i}\t{i % 2}\n" for i, (c, s, e) in enumerate(zip(chrom, start, end)))
    path = write(tmp_path / "starr.tsv.gz", "chrom\tstart\tend\tsignal\tfold\n" + rows)
    table = read_sequence_table(path, 200, genome=genome)
    with open_genome(genome) as fasta:
        expected, kept = region_codes(fasta, chrom, start, end, 200, edge="pad")
    np.testing.assert_array_equal(kept, np.arange(4))
    np.testing.assert_array_equal(table.codes, expected)
    assert (table.codes[1, :20] == 4).all()  # X:5-50 centres near the chromosome start: N-padded
    assert table.names == ["2L:1000-1300", "X:5-50", "2R:20000-20001", "2L:7000-7400"]
    assert table.regions is not None
    pd.testing.assert_frame_equal(
        table.regions,
        pd.DataFrame({"chrom": chrom, "start": start, "end": end}).astype(
            {"chrom": object, "start": np.int64, "end": np.int64}
        ),
    )
    np.testing.assert_array_equal(table.targets[:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(table.fold, [0, 1, 0, 1])


def test_chr_prefix_mismatch_is_tolerated(tmp_path: Path, genome: Path) -> None:
    plain = write(tmp_path / "plain.csv", "chrom,start,end,y\n2L,1000,1300,1\n3R,400,800,2\n")
    prefixed = write(tmp_path / "prefixed.csv", "chrom,start,end,y\nchr2L,1000,1300,1\nchr3R,400,800,2\n")
    a = read_sequence_table(plain, 150, genome=genome)
    b = read_sequence_table(prefixed, 150, genome=genome)
    np.testing.assert_array_equal(a.codes, b.codes)
    assert (b.codes < 4).mean() > 0.5  # real sequence, not all N
    assert b.names == ["chr2L:1000-1300", "chr3R:400-800"]  # names keep the table's spelling
    assert b.regions is not None and b.regions["chrom"].tolist() == ["2L", "3R"]  # regions the genome's


def test_csv_and_gzip_tsv_read_the_same(tmp_path: Path) -> None:
    rows = [("r1", "ACGTACGT", "0.5", "1"), ("r2", "GGGG", "2", "3"), ("r3", "TTTTTTTTTTTT", "-1", "4")]
    csv = write(tmp_path / "t.csv", "name,sequence,x,y\n" + "".join(",".join(r) + "\n" for r in rows))
    tsv = write(tmp_path / "t.tsv.gz", "name\tsequence\tx\ty\n" + "".join("\t".join(r) + "\n" for r in rows))
    assert gzip.decompress(tsv.read_bytes()).startswith(b"name\t")
    a, b = read_sequence_table(csv, 8), read_sequence_table(tsv, 8)
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert a.names == b.names == ["r1", "r2", "r3"]
    assert a.target_names == b.target_names == ["x", "y"]
    np.testing.assert_array_equal(a.targets, [[0.5, 1], [2, 3], [-1, 4]])
    np.testing.assert_array_equal(a.codes[1], base_codes("NNGGGGNN"))


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "t.tsv", "sequence\ty\nACGT\t1\n\nACGT\t2\n\nACGT\toops\n")
    with pytest.raises(AtlasbenchError, match=re.escape(f"{path}:6: column 'y'")):
        read_sequence_table(path, 4)
    ok = write(tmp_path / "ok.tsv", "sequence\ty\nACGT\t1\n\nACGT\t2\n\n")
    assert read_sequence_table(ok, 4).targets[:, 0].tolist() == [1, 2]


# (file name, content, expected message fragments; "{path}" is replaced by the file path).
ERRORS = {
    "no sequence columns": (
        "t.tsv",
        "name\ty\na\t1\n",
        ["{path}:1:", "'sequence'", "'chrom'", "found columns: name, y"],
    ),
    "target missing": (
        "t.tsv",
        "sequence\ty\tz\nACGT\t1\t2\n",
        ["{path}:1:", "'w' not in the table", "available columns: sequence, y, z"],
    ),
    "non-numeric target": ("t.tsv", "sequence\ta\tb\nACGT\t1\t2\nACGT\t3\tabc\n", ["{path}:3:", "column 'b'", "'abc'"]),
    "NaN target": ("t.csv", "sequence,a\nACGT,1\nACGT,2\nACGT,NaN\n", ["{path}:4:", "column 'a'", "'NaN'"]),
    "inf target": ("t.csv", "sequence,a\nACGT,inf\n", ["{path}:2:", "column 'a'", "'inf'"]),
    "empty target": ("t.csv", "sequence,a,b\nACGT,1,2\nACGT,,3\n", ["{path}:3:", "column 'a'", "''"]),
    "bad base": (
        "t.tsv",
        "sequence\ty\nACGT\t1\nAAAA\t1\nACxGT\t2\nAZ\t3\n",
        ["{path}:4:", "column 'sequence'", "'x' at position 3", "1 more such rows"],
    ),
    "empty sequence": ("t.csv", "sequence,y\nACGT,1\n,2\n", ["{path}:3:", "column 'sequence'", "empty"]),
    "empty table": ("t.tsv", "sequence\ty\n", ["{path}:", "no data rows"]),
    "empty file": ("t.tsv", "", ["{path}:", "empty"]),
    "no targets": ("t.tsv", "name\tsequence\tnote\na\tACGT\tfoo\n", ["{path}:1:", "no target columns"]),
    "duplicate names": (
        "t.tsv",
        "name\tsequence\ty\na\tACGT\t1\nb\tACGT\t2\na\tACGT\t3\n",
        ["{path}:4:", "column 'name'", "'a' is already used on line 2"],
    ),
    "fractional fold": (
        "t.tsv",
        "sequence\ty\tfold\nACGT\t1\t0\nACGT\t1\t1.5\n",
        ["{path}:3:", "column 'fold'", "'1.5'"],
    ),
    "negative fold": ("t.tsv", "sequence\ty\tfold\nACGT\t1\t-1\n", ["{path}:2:", "column 'fold'", "'-1'"]),
    "unknown extension": ("t.xlsx", "sequence\ty\nACGT\t1\n", ["{path}:", ".tsv, .txt or .csv"]),
    "too many fields": ("t.csv", "sequence,y\nACGT,1\nACGT,1,2\n", ["{path}:3:", "could not parse"]),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_name_file_line_and_column(tmp_path: Path, case: str) -> None:
    name, content, fragments = ERRORS[case]
    path = write(tmp_path / name, content)
    with pytest.raises(AtlasbenchError) as info:
        read_sequence_table(path, 4, targets=["w"] if case == "target missing" else None)
    message = str(info.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment.format(path=path) in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.tsv"
    with pytest.raises(AtlasbenchError, match=re.escape(f"{path}: sequence table not found")):
        read_sequence_table(path, 4)


COORDINATE_ERRORS = {
    "unknown chromosome": ("chrom,start,end,y\n2L,10,20,1\nchr9,10,20,2\n", ["{path}:3:", "column 'chrom'", "'chr9'"]),
    "beyond chromosome": (
        "chrom,start,end,y\n2L,10,20,1\n4,10,99999999,2\n",
        ["{path}:3:", "column 'end'", "99999999"],
    ),
    "start not before end": ("chrom,start,end,y\n2L,20,20,1\n", ["{path}:2:", "'start', 'end'", "smaller"]),
    "negative start": ("chrom,start,end,y\n2L,-5,20,1\n", ["{path}:2:", "column 'start'", "'-5'"]),
    "duplicate regions": ("chrom,start,end,y\n2L,10,20,1\n2L,10,20,2\n", ["{path}:3:", "'2L:10-20'", "line 2"]),
}


@pytest.mark.parametrize("case", list(COORDINATE_ERRORS))
def test_coordinate_errors_name_file_line_and_column(tmp_path: Path, genome: Path, case: str) -> None:
    content, fragments = COORDINATE_ERRORS[case]
    path = write(tmp_path / "t.csv", content)
    with pytest.raises(AtlasbenchError) as info:
        read_sequence_table(path, 4, genome=genome)
    message = str(info.value)
    for fragment in fragments:
        assert fragment.format(path=path) in message


def test_coordinates_without_genome(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "chrom,start,end,y\n2L,10,20,1\n")
    with pytest.raises(AtlasbenchError, match=re.escape(str(path)) + ".*no genome FASTA"):
        read_sequence_table(path, 4)


def test_length_must_be_positive(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "sequence,y\nACGT,1\n")
    with pytest.raises(ValueError, match="positive"):
        read_sequence_table(path, 0)


def test_train_command_on_a_sequence_table_then_predict(tmp_path: Path) -> None:
    """`atlasbench train TABLE` trains on an MPRA-like table and writes a model folder
    with its test-fold evaluation; `atlasbench predict` loads it back."""
    from click.testing import CliRunner

    from atlasbench.cli import main
    from atlasbench.models.trained import load_trained

    rng = np.random.default_rng(0)
    letters = np.array(list("ACGT"))
    seqs = ["".join(rng.choice(letters, 120)) for _ in range(300)]
    activity = np.array([s.count("GATA") for s in seqs], dtype=float)
    table = pd.DataFrame({"name": [f"s{i}" for i in range(300)], "sequence": seqs,
                          "activity": activity, "control": 1.0 + rng.random(300)})
    path = tmp_path / "mpra.tsv"
    table.to_csv(path, sep="\t", index=False)
    out = tmp_path / "model"
    result = CliRunner().invoke(main, [
        "train", str(path), "--input-length", "120", "--out", str(out), "--epochs", "2", "--batch-size", "32",
        "--param", "filters=8", "--param", "n_dil_layers=4", "--folds", "5",
    ])
    assert result.exit_code == 0, result.output
    trained = load_trained(out)
    assert trained.cell_types == ["activity", "control"]
    assert trained.input_length == 120
    assert set(trained.regions["split"]) == {"train", "val", "test"}
    evaluation = pd.read_csv(out / "evaluation.tsv", sep="\t")
    assert {"activity", "control", "all"} <= set(evaluation["cell_type"])
    assert (out / "training_log.tsv").is_file()

    fasta = tmp_path / "new.fa"
    fasta.write_text(">short\nGATAGATA\n>long\n" + seqs[0] + seqs[1] + "\n")
    predicted = CliRunner().invoke(main, ["predict", str(out), str(fasta)])
    assert predicted.exit_code == 0, predicted.output
    lines = predicted.output.strip().split("\n")
    assert lines[0].split("\t") == ["name", "length", "activity", "control"]
    assert [line.split("\t")[0] for line in lines[1:]] == ["short", "long"]

    missing_length = CliRunner().invoke(main, ["train", str(path)])
    assert missing_length.exit_code != 0 and "--input-length" in missing_length.output


def _negative_table(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    letters = np.array(list("ACGT"))
    seqs = ["".join(rng.choice(letters, 120)) for _ in range(200)]
    table = pd.DataFrame({"sequence": seqs, "dev": rng.normal(0.5, 1.5, 200), "hk": rng.normal(1.0, 1.0, 200)})
    path = tmp_path / "log2.tsv"
    table.to_csv(path, sep="\t", index=False)
    return path


def test_negative_targets_get_a_linear_output(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """log2 activities below zero cannot be reached by the default softplus output: the model
    gets a linear one, with a warning; asking for softplus (or a loss that cannot take them) fails."""
    import torch
    from click.testing import CliRunner

    from atlasbench.cli import main
    from atlasbench.models.trained import load_trained

    path = _negative_table(tmp_path)
    common = ["train", str(path), "--input-length", "120", "--epochs", "1", "--batch-size", "64",
              "--param", "filters=8", "--param", "n_dil_layers=2", "--folds", "5"]
    with caplog.at_level(logging.WARNING, logger="atlasbench.models.seqtable"):
        result = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "model")])
    assert result.exit_code == 0, result.output
    assert "go below zero" in caplog.text and "linear output" in caplog.text
    trained = load_trained(tmp_path / "model")
    assert isinstance(trained.module.out, torch.nn.Identity)

    softplus = ["--param", "output_activation=softplus", "--out", str(tmp_path / "m2")]
    explicit = CliRunner().invoke(main, [*common, *softplus])
    assert explicit.exit_code != 0 and "output_activation=linear" in str(explicit.output) + str(explicit.exception)
    poisson = CliRunner().invoke(main, [*common, "--loss", "poisson", "--out", str(tmp_path / "m3")])
    assert poisson.exit_code != 0 and "Poisson" in str(poisson.output) + str(poisson.exception)
