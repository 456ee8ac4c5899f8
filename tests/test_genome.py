"""Tests for atlasbench.io.genome on a real plain-gzip slice of the Drosophila dm6 genome."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from atlasbench.errors import AtlasbenchError
from atlasbench.io.genome import (
    decode,
    match_chromosomes,
    n_fraction,
    non_n_bases,
    one_hot,
    open_genome,
    prepare_fasta,
    read_chrom_sizes,
    region_windows,
    reverse_complement,
    write_chrom_sizes,
)

DM6 = Path(__file__).parent / "data" / "dm6_1pct.fa.gz"
DM6_NAMES = ["2L", "2R", "3L", "3R", "4", "X", "Y"]


def parse_fasta_gz(path: Path) -> dict[str, str]:
    """Independent reference parse: name -> uppercase sequence, with plain gzip and str."""
    seqs: dict[str, list[str]] = {}
    with gzip.open(path, "rt") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith(">"):
                current = seqs.setdefault(line[1:].split()[0], [])
            else:
                current.append(line)
    return {name: "".join(parts).upper() for name, parts in seqs.items()}


@pytest.fixture(scope="module")
def reference() -> dict[str, str]:
    return parse_fasta_gz(DM6)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_fasta(DM6, tmp_path_factory.mktemp("genome") / "dm6.fa.gz")


def test_plain_gzip_is_refused_with_the_fix() -> None:
    with pytest.raises(AtlasbenchError) as info:
        open_genome(DM6)
    message = str(info.value)
    assert str(DM6) in message
    assert f"atlasbench genome prepare {DM6} OUT.fa.gz" in message
    assert "prepare_fasta" in message


def test_compression_is_read_from_content_not_name(tmp_path: Path, prepared: Path) -> None:
    disguised_gzip = tmp_path / "plain_looking.fa"
    disguised_gzip.write_bytes(gzip.compress(b">a\nACGT\n"))
    with pytest.raises(AtlasbenchError, match="plain gzip"):
        open_genome(disguised_gzip)
    disguised_bgzip = tmp_path / "bgzip_without_gz_suffix.fa"
    disguised_bgzip.write_bytes(prepared.read_bytes())
    with open_genome(disguised_bgzip) as genome:
        assert genome.names == DM6_NAMES


def test_prepared_genome_equals_independent_parse(prepared: Path, reference: dict[str, str]) -> None:
    assert Path(f"{prepared}.fai").is_file() and Path(f"{prepared}.gzi").is_file()
    assert not [p for p in prepared.parent.iterdir() if p.name.startswith(".")]
    with open_genome(prepared) as genome:
        assert genome.path == prepared
        assert genome.names == DM6_NAMES == list(reference)
        assert genome.sizes == {name: len(seq) for name, seq in reference.items()}
        assert sum(genome.sizes.values()) == 1_375_477
        for name, seq in reference.items():
            assert genome.fetch(name, 0, len(seq)) == seq


def test_fetch(prepared: Path, reference: dict[str, str]) -> None:
    with open_genome(prepared) as genome:
        assert genome.fetch("2R", 1000, 1100) == reference["2R"][1000:1100]
        assert genome.fetch("Y", 36_600, 36_673) == reference["Y"][36_600:]
        assert genome.fetch("4", 5, 5) == ""
        with pytest.raises(AtlasbenchError, match="'chr4' is not in the genome"):
            genome.fetch("chr4", 0, 10)
        with pytest.raises(AtlasbenchError, match="4:13000-14000 is not within 4"):
            genome.fetch("4", 13_000, 14_000)
        with pytest.raises(AtlasbenchError, match="is not within"):
            genome.fetch("4", -1, 10)


def test_prepare_accepts_plain_text_and_bgzip(tmp_path: Path, prepared: Path, reference: dict[str, str]) -> None:
    plain = tmp_path / "small.fa"
    plain.write_text(">chrA desc\nACGTacgtNN\nAC\n>chrB\nGGGG\n")
    with open_genome(prepare_fasta(plain, tmp_path / "small.fa.gz")) as genome:
        assert genome.sizes == {"chrA": 12, "chrB": 4}
        assert genome.fetch("chrA", 0, 12) == "ACGTACGTNNAC"
    with open_genome(prepare_fasta(prepared, tmp_path / "again.fa.gz")) as genome:
        assert genome.fetch("X", 0, 500) == reference["X"][:500]


def test_prepare_failure_leaves_nothing(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.fa"
    ragged.write_text(">a\nACGT\nACGTACGT\nAC\n")
    out = tmp_path / "out"
    with pytest.raises(AtlasbenchError, match=r"ragged\.fa"):
        prepare_fasta(ragged, out / "ragged.fa.gz")
    assert list(out.iterdir()) == []
    with pytest.raises(AtlasbenchError, match="not found"):
        prepare_fasta(tmp_path / "absent.fa", out / "x.fa.gz")


def test_open_plain_fasta_builds_index(tmp_path: Path) -> None:
    plain = tmp_path / "plain.fa"
    plain.write_text(">1\nACGTN\nacgt\n>MT\nTTTT\n")
    with open_genome(plain) as genome:
        assert genome.sizes == {"1": 9, "MT": 4}
        assert genome.fetch("1", 3, 9) == "TNACGT"
    assert (tmp_path / "plain.fa.fai").is_file()


def test_truncated_or_missing_genome(tmp_path: Path, prepared: Path) -> None:
    truncated = tmp_path / "truncated.fa.gz"
    truncated.write_bytes(prepared.read_bytes()[: prepared.stat().st_size // 2])
    with pytest.raises(AtlasbenchError, match="truncated"):
        open_genome(truncated)
    with pytest.raises(AtlasbenchError, match=r"absent\.fa\.gz: FASTA file not found"):
        open_genome(tmp_path / "absent.fa.gz")


def test_match_chromosomes() -> None:
    ucsc = ["chr2L", "chr2R", "chrX", "chrM"]
    mapping, missing = match_chromosomes(["2L", "chrX", "X", "MT", "chrUn", "2L"], ucsc)
    assert mapping == {"2L": "chr2L", "chrX": "chrX", "X": "chrX", "MT": "chrM"}
    assert missing == ["chrUn"]
    flybase = [*DM6_NAMES, "mitochondrion_genome", "MT"]
    mapping, missing = match_chromosomes(["chr2L", "chr4", "chrM", "M", "chrMT", "chrY_random"], flybase)
    assert mapping == {"chr2L": "2L", "chr4": "4", "chrM": "MT", "M": "MT", "chrMT": "MT"}
    assert missing == ["chrY_random"]
    mapping, _ = match_chromosomes(["1", "chr1", "M"], ["chr1", "1", "M", "chrM"])
    assert mapping == {"1": "1", "chr1": "chr1", "M": "M"}


def test_chrom_sizes_round_trip(tmp_path: Path) -> None:
    sizes = {"2L": 23_513_712, "X": 23_542_271, "mitochondrion_genome": 19_524}
    path = tmp_path / "dm6.chrom.sizes"
    write_chrom_sizes(sizes, path)
    assert path.read_text() == "2L\t23513712\nX\t23542271\nmitochondrion_genome\t19524\n"
    assert read_chrom_sizes(path) == sizes
    assert list(read_chrom_sizes(path)) == list(sizes)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("2L\t100\n2R 200\n", r"sizes:2: expected 'name<TAB>length'"),
        ("2L\t100\n\n2R\t200\textra\n", r"sizes:3: expected 'name<TAB>length'"),
        ("2L\t100\n2R\t0\n", r"sizes:2: length of '2R' must be a positive integer"),
        ("2L\tlong\n", r"sizes:1: length of '2L' must be a positive integer"),
        ("2L\t100\n2R\t5\n2L\t100\n", r"sizes:3: chromosome '2L' already listed on line 1"),
        ("\n", r"sizes: no chromosomes listed"),
    ],
)
def test_chrom_sizes_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "sizes"
    path.write_text(text)
    with pytest.raises(AtlasbenchError, match=match):
        read_chrom_sizes(path)


def test_chrom_sizes_missing(tmp_path: Path) -> None:
    with pytest.raises(AtlasbenchError, match="not found"):
        read_chrom_sizes(tmp_path / "absent.sizes")


def test_one_hot_by_hand() -> None:
    x = one_hot("ACgtNRa")
    expected = np.array(
        [
            [1, 0, 0, 0, 0, 0, 1],  # A
            [0, 1, 0, 0, 0, 0, 0],  # C
            [0, 0, 1, 0, 0, 0, 0],  # G
            [0, 0, 0, 1, 0, 0, 0],  # T
        ],
        dtype=np.uint8,
    )
    assert x.dtype == np.uint8 and x.shape == (4, 7)
    np.testing.assert_array_equal(x, expected)
    batch = one_hot(["ACgtNRa", "TTTTTTT"])
    assert batch.shape == (2, 4, 7)
    np.testing.assert_array_equal(batch[0], expected)
    np.testing.assert_array_equal(batch[1], np.tile([[0], [0], [0], [1]], 7))
    assert decode(batch) == ["ACGTNNA", "TTTTTTT"]
    assert decode(x) == ["ACGTNNA"]
    assert one_hot([]).shape == (0, 4, 0)
    with pytest.raises(ValueError, match="equal length"):
        one_hot(["ACGT", "ACG"])


def test_reverse_complement_by_hand() -> None:
    assert decode(reverse_complement(one_hot("AACGTN"))) == ["NACGTT"]
    assert decode(reverse_complement(one_hot(["GATTACA", "CCCNAAA"]))) == ["TGTAATC", "TTTNGGG"]


@given(st.lists(st.text(alphabet="ACGTNacgtnRYK", min_size=5, max_size=5), min_size=1, max_size=6))
def test_reverse_complement_properties(seqs: list[str]) -> None:
    x = one_hot(seqs)
    rc = reverse_complement(x)
    np.testing.assert_array_equal(reverse_complement(rc), x)
    complement = str.maketrans("ACGT", "TGCA")
    expected = [s.upper().translate(complement)[::-1] for s in seqs]
    np.testing.assert_array_equal(rc, one_hot(expected))


def test_region_windows_pad(prepared: Path, reference: dict[str, str]) -> None:
    size4 = len(reference["4"])
    chrom = np.array(["4", "4", "2L"])
    start = np.array([0, size4 - 11, 1000])
    end = np.array([10, size4, 1200])
    with open_genome(prepared) as genome:
        x, kept = region_windows(genome, chrom, start, end, 100)
    assert x.shape == (3, 4, 100) and x.dtype == np.uint8
    np.testing.assert_array_equal(kept, [0, 1, 2])
    # region 0: midpoint 5, window [-45, 55): 45 columns off the start
    assert not x[0, :, :45].any()
    np.testing.assert_array_equal(x[0, :, 45:], one_hot(reference["4"][:55]))
    # region 1: midpoint size-6, window [size-56, size+44): 44 columns off the end
    assert not x[1, :, 56:].any()
    np.testing.assert_array_equal(x[1, :, :56], one_hot(reference["4"][size4 - 56 :]))
    np.testing.assert_array_equal(x[2], one_hot(reference["2L"][1050:1150]))
    np.testing.assert_allclose(n_fraction(x[:2]), [45 / 100, 44 / 100])  # this stretch has no N of its own


def test_region_windows_drop(prepared: Path, caplog: pytest.LogCaptureFixture) -> None:
    with open_genome(prepared) as genome:
        size4 = genome.sizes["4"]
        # windows: crossing the start, touching the start, inside, touching the end, crossing the end
        chrom = ["4", "4", "2L", "4", "4"]
        start = [0, 49, 1000, size4 - 51, size4 - 11]
        end = [10, 51, 1200, size4 - 49, size4]
        with caplog.at_level("INFO", logger="atlasbench.io.genome"):
            x, kept = region_windows(genome, chrom, start, end, 100, edge="drop")
        np.testing.assert_array_equal(kept, [1, 2, 3])
        assert x.shape == (3, 4, 100)
        np.testing.assert_array_equal(x[0], one_hot(genome.fetch("4", 0, 100)))
        np.testing.assert_array_equal(x[2], one_hot(genome.fetch("4", size4 - 100, size4)))
        assert "dropped 2 of 5" in caplog.text


def test_region_windows_errors(prepared: Path) -> None:
    with open_genome(prepared) as genome:
        with pytest.raises(AtlasbenchError, match="not in the genome: chr2L"):
            region_windows(genome, ["chr2L"], [0], [10], 100)
        with pytest.raises(AtlasbenchError, match="region 1 4:13000-14000"):
            region_windows(genome, ["4", "4"], [0, 13_000], [10, 14_000], 100)


def test_n_fraction() -> None:
    x = one_hot(["ACNN", "NNNN", "ACGT"])
    np.testing.assert_allclose(n_fraction(x), [0.5, 1.0, 0.0])
    assert n_fraction(x[0]) == 0.5


def test_non_n_bases_counts_every_base_but_n_over_the_chosen_chromosomes(tmp_path: Path) -> None:
    fasta = tmp_path / "g.fa"
    fasta.write_text(">chr1\nACGTNNNNac\ngtnnRY\n>chr2\nNNNNNNNN\n>chrM\nACGT\n")
    # chr1: 16 bp, 6 of them N or n; chr2 is all N; chrM is left out
    assert non_n_bases(fasta, ["chr1", "chr2"]) == 10
    # names are matched as elsewhere (chr prefix), and chunking does not change the count
    assert non_n_bases(fasta, ["1", "M"], chunk=3) == 14
    with pytest.raises(AtlasbenchError, match=r"chromosomes \['chr9'\] are not in the FASTA"):
        non_n_bases(fasta, ["chr1", "chr9"])
