"""Genomes fetched by name or URL (atlasbench.io.genome_fetch), from a local HTTP server only.

The server runs on 127.0.0.1 in a thread and counts the requests it answers; every other
connection is refused by a guard on ``socket.connect``, so no test here can reach the
internet. Assembly names are looked up at stand-in genomepy providers serving from the
same local server.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import logging
import socket
import threading
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

import atlasbench.io.genome_fetch as genome_fetch
from atlasbench.cli import main
from atlasbench.errors import AtlasbenchError
from atlasbench.io.genome import open_genome
from atlasbench.io.genome_fetch import cached_genome, default_genome_cache, fetch_genome
from atlasbench.study.data_stages import effective_genome_size, genome_stage
from atlasbench.study.jobs import data_jobs
from atlasbench.study.loader import parse_study
from atlasbench.study.problems import StudyError
from atlasbench.study.validate import check_study

DATA = Path(__file__).parent / "data"
ARCHR_FRAGMENTS = DATA / "archr_pbsmall_hg19.fragments.tsv.gz"

# A small genome whose non-N bases are counted by hand: N runs (and a soft-masked stretch,
# lowercase, which counts as sequence) in lines of 60.
SEQUENCES = {
    "chr1": "ACGTACGTAC" * 10 + "N" * 25 + "acgt" * 5,  # 145 bp: 100 + 20 non-N
    "chr2": "N" * 40 + "GATTACA" * 10,  # 110 bp: 70 non-N
    "chrM": "ACGT" * 4,  # 16 bp: 16 non-N
}
NON_N = {"chr1": 120, "chr2": 70, "chrM": 16}
SIZES = {name: len(seq) for name, seq in SEQUENCES.items()}


def _fasta_text() -> str:
    lines = []
    for name, seq in SEQUENCES.items():
        lines.append(f">{name} a test sequence")
        lines += [seq[i : i + 60] for i in range(0, len(seq), 60)]
    return "\n".join(lines) + "\n"


class _Counting(http.server.SimpleHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Base URL of a local HTTP server over a folder with tiny.fa.gz and not_fasta.fa.gz;
    ``server.requests`` lists the paths requested."""
    root = tmp_path_factory.mktemp("www")
    with gzip.open(root / "tiny.fa.gz", "wt") as fh:
        fh.write(_fasta_text())
    (root / "not_fasta.fa.gz").write_bytes(gzip.compress(b"<html><body>Moved</body></html>\n"))
    handler = type("Handler", (_Counting,), {"requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.requests = handler.requests  # type: ignore[attr-defined]
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"  # type: ignore[attr-defined]
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module", autouse=True)
def offline(tmp_path_factory):
    """No connection beyond this machine; genomepy's own config and cache in a temporary home."""
    home = tmp_path_factory.mktemp("home")
    connect = socket.socket.connect

    def guarded(sock, address, *args):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"test tried to reach {address} (tests stay offline)")
        return connect(sock, address, *args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", guarded)
        mp.setenv("XDG_CONFIG_HOME", str(home / "config"))
        mp.setenv("XDG_CACHE_HOME", str(home / "cache"))
        mp.setenv("ATLASBENCH_GENOME_CACHE", str(home / "genomes"))
        import genomepy  # noqa: F401 - imported here, so that it writes its config under the temporary home

        yield


def _served_since(server, before: int) -> list[str]:
    return server.requests[before:]


# -- fetching by URL ------------------------------------------------------------------


def test_fetch_by_url_caches_an_indexed_fasta_and_its_effective_size(tmp_path, server):
    url = f"{server.url}/tiny.fa.gz"
    fetched = fetch_genome(url, tmp_path)

    assert fetched.provider == "URL"
    assert fetched.folder.parent == tmp_path and fetched.folder.name.startswith("tiny-")
    assert {p.name for p in fetched.folder.iterdir()} == {
        "genome.fa.gz",
        "genome.fa.gz.fai",
        "genome.fa.gz.gzi",
        "genome.json",
    }
    with open_genome(fetched.fasta) as genome:
        assert dict(genome.sizes) == SIZES
        assert genome.fetch("chr1", 95, 130) == SEQUENCES["chr1"][95:130].upper()
    assert fetched.non_n_bases == NON_N
    assert fetched.effective_size() == 206
    assert fetched.effective_size(["chr1", "chr2"]) == 190
    assert fetched.effective_size(["2"]) == 70  # spelled as elsewhere: 2 is chr2
    record = json.loads((fetched.folder / "genome.json").read_text())
    assert record["source"] == url and record["url"] == url
    assert record["effective_genome_size"] == 206 and record["non_n_bases"] == NON_N
    with pytest.raises(AtlasbenchError, match=r"chromosomes \['chr9'\] are not in it"):
        fetched.effective_size(["chr9"])


def test_a_second_fetch_downloads_nothing(tmp_path, server):
    url = f"{server.url}/tiny.fa.gz"
    before = len(server.requests)
    first = fetch_genome(url, tmp_path)
    assert _served_since(server, before)  # the first fetch did download
    stamp = first.fasta.stat().st_mtime_ns

    before = len(server.requests)
    again = fetch_genome(url, tmp_path)
    assert _served_since(server, before) == []
    assert again == first and again.fasta.stat().st_mtime_ns == stamp
    assert cached_genome(url, tmp_path) == first


def test_http_404_is_named_and_leaves_no_cache(tmp_path, server):
    url = f"{server.url}/absent/mm10.fa.gz"
    with pytest.raises(AtlasbenchError, match=r"absent/mm10\.fa\.gz: the server answered HTTP 404") as error:
        fetch_genome(url, tmp_path)
    assert "\n" not in str(error.value)
    assert cached_genome(url, tmp_path) is None
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # not even an empty folder


def test_unreachable_server_is_named(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/dm6.fa.gz"
    with pytest.raises(AtlasbenchError, match=r"dm6\.fa\.gz: could not reach the server"):
        fetch_genome(url, tmp_path)
    assert cached_genome(url, tmp_path) is None


def test_a_download_that_is_not_a_fasta_is_refused(tmp_path, server):
    url = f"{server.url}/not_fasta.fa.gz"
    with pytest.raises(
        AtlasbenchError, match=r"not_fasta\.fa\.gz: the download is not a FASTA \(it starts with '<html>"
    ):
        fetch_genome(url, tmp_path)
    assert cached_genome(url, tmp_path) is None
    assert not list(tmp_path.glob("*/download"))


def test_an_interrupted_fetch_never_looks_complete(tmp_path, server, monkeypatch):
    url = f"{server.url}/tiny.fa.gz"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # after the FASTA and its indexes, before genome.json

    monkeypatch.setattr(genome_fetch, "non_n_bases", killed)
    with pytest.raises(KeyboardInterrupt):
        fetch_genome(url, tmp_path)
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert (folder / "genome.fa.gz").exists() and not (folder / "genome.json").exists()
    assert cached_genome(url, tmp_path) is None

    # a process killed outright leaves its download folder: the next fetch clears it
    (folder / "download").mkdir()
    (folder / "download" / "part.fa").write_text(">chr1\nAC")
    monkeypatch.undo()
    fetched = fetch_genome(url, tmp_path)
    assert fetched.non_n_bases == NON_N
    assert not (folder / "download").exists()


def test_default_cache_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ATLASBENCH_GENOME_CACHE", str(tmp_path / "shared"))
    assert default_genome_cache() == tmp_path / "shared"
    monkeypatch.delenv("ATLASBENCH_GENOME_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_genome_cache() == tmp_path / "xdg" / "atlasbench" / "genomes"


# -- fetching by assembly name, from stand-in providers --------------------------------


@pytest.fixture
def providers(monkeypatch, server):
    """genomepy's providers replaced: GENCODE offline, Ensembl and NCBI without the
    assembly, UCSC with 'tiny1' served by the local server."""
    import genomepy.providers
    from genomepy.providers.url import UrlProvider

    class Offline(UrlProvider):
        name = "GENCODE"

        def __init__(self):
            raise ConnectionError("GENCODE appears to be offline.")

    def stand_in(label: str, genomes: dict) -> type:
        class StandIn(UrlProvider):
            name = label

            def __init__(self):
                self.genomes = genomes

            def get_genome_download_link(self, name, mask=None, **kwargs):
                return f"{server.url}/tiny.fa.gz"

        return StandIn

    monkeypatch.setitem(genomepy.providers.PROVIDERS, "gencode", Offline)
    monkeypatch.setitem(genomepy.providers.PROVIDERS, "ensembl", stand_in("Ensembl", {}))
    monkeypatch.setitem(genomepy.providers.PROVIDERS, "ucsc", stand_in("UCSC", {"tiny1": {}}))
    monkeypatch.setitem(genomepy.providers.PROVIDERS, "ncbi", stand_in("NCBI", {}))


def test_fetch_by_name_from_the_first_provider_that_has_it(tmp_path, server, providers):
    fetched = fetch_genome("tiny1", tmp_path)
    assert fetched.provider == "UCSC"
    assert fetched.folder == tmp_path / "tiny1"
    assert fetched.non_n_bases == NON_N
    assert json.loads((fetched.folder / "genome.json").read_text())["url"] == f"{server.url}/tiny.fa.gz"

    before = len(server.requests)
    assert fetch_genome("tiny1", tmp_path) == fetched
    assert _served_since(server, before) == []


def test_unknown_assembly_name_is_named(tmp_path, providers):
    with pytest.raises(AtlasbenchError) as error:
        fetch_genome("mm1O", tmp_path)
    message = str(error.value)
    assert message.startswith("genome mm1O: no assembly of that name at Ensembl, UCSC, NCBI (gencode could not")
    assert "\n" not in message
    with pytest.raises(AtlasbenchError, match="no assembly of that name at Ensembl;"):
        fetch_genome("tiny1", tmp_path, provider="ensembl")
    with pytest.raises(
        AtlasbenchError, match=r"could not reach the genome provider\(s\) gencode; is this machine online"
    ):
        fetch_genome("tiny1", tmp_path, provider="gencode")
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]


# -- a study whose genome is fetched --------------------------------------------------


def _study(tmp_path: Path, genome: dict, check_files: bool = False, folds: dict | None = None, **platform):
    data: dict = {
        "name": "fetched",
        "output": "out",
        "genome": genome,
        "platforms": [
            {
                "name": "tenx",
                "fragments": "frags.tsv.gz",
                "cells": "cells.tsv",
                "cost": {"per_cell": 0.5, "per_million_reads": 3.0},
                **platform,
            }
        ],
    }
    if folds is not None:
        data["folds"] = folds
    return parse_study(data, tmp_path, check_files=check_files)


def test_study_genome_by_url_runs_the_genome_stage_on_the_fetched_fasta(tmp_path, server):
    url = f"{server.url}/tiny.fa.gz"
    study = _study(tmp_path, {"url": url, "cache": "genomes", "chromosomes": ["chr1", "chrM"]}, folds={"k": 2})
    assert study.genome.remote == url and study.genome.cache == tmp_path / "genomes"
    assert study.genome.cached() is None
    (tmp_path / "cells.tsv").write_text("barcode\tcell_type\nAAAC-1\tB\n")  # the job graph reads the cell types
    assert "sequences" in [job.key for job in data_jobs(study)]  # a fetched genome has a FASTA

    info = genome_stage(study)
    fetched = cached_genome(url, tmp_path / "genomes")
    assert fetched is not None and info.fasta == fetched.fasta
    assert info.chrom_sizes == {"chr1": 145, "chrM": 16} and info.names == ["chr1", "chr2", "chrM"]
    assert effective_genome_size(study, info) == (136, f"non-N bases of {fetched.fasta}")

    before = len(server.requests)
    assert genome_stage(study) == info
    assert _served_since(server, before) == []

    # with a known assembly's name as its label, MACS's value for it wins
    labelled = _study(tmp_path, {"url": url, "name": "dm6", "cache": "genomes"})
    assert effective_genome_size(labelled, genome_stage(labelled))[0] == 120_000_000


def test_genome_settings_to_fetch(tmp_path):
    assert _study(tmp_path, {"name": "mm10", "provider": "ucsc"}).genome.remote == "mm10"
    # with files, name is only the label
    assert _study(tmp_path, {"fasta": "mm10.fa.gz", "name": "mm10"}).genome.remote is None
    assert _study(tmp_path, {"chrom_sizes": "mm10.sizes", "name": "mm10"}).genome.remote is None

    def problems(genome: dict) -> str:
        with pytest.raises(StudyError) as error:
            _study(tmp_path, genome)
        return str(error.value)

    assert "genome.name: is a URL: give it as genome.url" in problems({"name": "https://example.org/mm10.fa.gz"})
    assert "genome.url: must be an https://, http:// or ftp:// URL" in problems({"url": "example.org/mm10.fa.gz"})
    assert "genome.fasta: not allowed with url" in problems({"url": "https://example.org/a.fa", "fasta": "a.fa"})
    assert "genome.provider: only for a genome fetched by name" in problems({"fasta": "a.fa", "provider": "ucsc"})
    assert "genome.cache: only for a genome fetched" in problems({"chrom_sizes": "a.sizes", "cache": "c"})
    assert "or an assembly name (e.g. name: mm10) or url to fetch" in problems({"annotation": "a.gtf"})


def test_validate_says_the_genome_will_be_fetched_or_reads_it_from_the_cache(tmp_path, server, caplog):
    import pandas as pd

    barcodes = sorted(pd.read_csv(ARCHR_FRAGMENTS, sep="\t", header=None, usecols=[3])[3].unique())
    cells = tmp_path / "cells.tsv"
    pd.DataFrame({"barcode": barcodes, "cell_type": [b.split(".")[0] for b in barcodes]}).to_csv(
        cells, sep="\t", index=False
    )
    url = f"{server.url}/tiny.fa.gz"
    genome = {"url": url, "cache": "genomes", "unknown_contigs": "error"}
    study = _study(tmp_path, genome, check_files=True, fragments=str(ARCHR_FRAGMENTS), cells=str(cells))
    before = len(server.requests)
    with caplog.at_level(logging.INFO, logger="atlasbench"):
        assert check_study(study) == []
    assert _served_since(server, before) == []
    assert "not in the genome cache yet; the run fetches it once" in caplog.text

    fetch_genome(url, tmp_path / "genomes")
    # now its names are known: the fragments' chr5 and chr11 are not in it
    (problem,) = check_study(study)
    assert problem.startswith(
        f"platforms[0] (tenx).fragments[0]: {ARCHR_FRAGMENTS}: contigs ['chr11', 'chr5'] are not in"
    )


def test_cli_genome_fetch(tmp_path, server):
    url = f"{server.url}/tiny.fa.gz"
    runner = CliRunner()
    result = runner.invoke(main, ["genome", "fetch", url, "--cache", str(tmp_path)])
    assert result.exit_code == 0, result.output
    fetched = cached_genome(url, tmp_path)
    assert fetched is not None
    assert result.output.strip().endswith(f"{fetched.fasta} (URL; 3 sequences, 206 non-N bases)")

    result = runner.invoke(main, ["genome", "fetch", f"{server.url}/nothing.fa", "--cache", str(tmp_path)])
    assert result.exit_code == 2
    assert "nothing.fa: the server answered HTTP 404" in result.output
