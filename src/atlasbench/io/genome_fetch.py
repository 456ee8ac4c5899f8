"""Genomes fetched by assembly name or URL, once, into a local cache.

A study may name its genome instead of giving a file: an assembly name such as ``mm10``,
``hg38`` or ``GRCm39``, looked up at GENCODE, Ensembl, UCSC and NCBI (in that order) by
`genomepy <https://github.com/vanheeringen-lab/genomepy>`_, or the URL of a FASTA
(plain, gzip or bgzip; ``https://``, ``http://`` or ``ftp://``), downloaded by genomepy's
URL provider. Either is fetched once into a cache folder that every study of the user
shares, and kept there ready for random access: a bgzip FASTA with its ``.fai`` and
``.gzi`` indexes (:func:`atlasbench.io.genome.prepare_fasta`), soft-masked as the
provider publishes it, every sequence kept. Beside it ``genome.json`` records where it
came from and the number of non-N bases of each sequence, the effective genome size
MACS3 is given for an assembly it has no value of its own for.

Layout of the cache (default ``$ATLASBENCH_GENOME_CACHE``, else
``$XDG_CACHE_HOME/atlasbench/genomes``, i.e. ``~/.cache/atlasbench/genomes``)::

    <key>/genome.fa.gz           bgzip FASTA, with genome.fa.gz.fai and genome.fa.gz.gzi
    <key>/genome.json            source, provider, download URL, non-N bases per sequence
    <key>.lock                   held by the process fetching <key>

``<key>`` is the assembly name (``mm10``; ``mm10-ucsc`` when a provider is chosen) or,
for a URL, the stem of its file name and a hash of the whole URL (``dm6-3f2a9c1b``).
A genome is complete once ``genome.json`` exists: it is written last and atomically,
after the FASTA and its indexes, so an interrupted fetch never leaves a genome that
looks complete; the download itself goes to ``<key>/download/``, removed at the end
and by the next fetch when a killed one left it behind. The lock makes a second
process asking for the same genome wait for the first and then use its result rather
than download it again.

Nothing here touches the network for a genome already in the cache, and genomepy is
imported only to download (on import it writes its own configuration under
``~/.config/genomepy``). On a cluster whose compute nodes have no internet, fetch on a
login node first (``atlasbench genome fetch NAME``) into a cache folder both can read.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from atlasbench.errors import AtlasbenchError
from atlasbench.io.atomic import write_text_atomic
from atlasbench.io.genome import match_chromosomes, non_n_bases, open_genome, prepare_fasta
from atlasbench.io.names import file_stem

__all__ = [
    "GENOME_CACHE_ENV",
    "PROVIDERS",
    "FetchedGenome",
    "cached_genome",
    "default_genome_cache",
    "fetch_genome",
    "is_url",
]

logger = logging.getLogger(__name__)

GENOME_CACHE_ENV = "ATLASBENCH_GENOME_CACHE"
"""Environment variable naming the genome cache folder (default ``~/.cache/atlasbench/genomes``)."""

PROVIDERS: tuple[str, ...] = ("gencode", "ensembl", "ucsc", "ncbi")
"""genomepy's providers of assemblies by name, in the order a name is looked up."""

_URL = re.compile(r"^(?:https?|ftp)://[^/\s]+", re.IGNORECASE)
_FASTA_SUFFIXES = re.compile(r"(?:\.(?:fa|fasta|fna|fas|seq))?(?:\.(?:gz|bgz|zip|tgz|tar\.gz))?$", re.IGNORECASE)
_MANIFEST = "genome.json"
_FASTA = "genome.fa.gz"
_PROBE_TIMEOUT = 60


def is_url(text: str) -> bool:
    """Whether ``text`` is an ``http://``, ``https://`` or ``ftp://`` URL (else an assembly name)."""
    return bool(_URL.match(text.strip()))


def default_genome_cache() -> Path:
    """The genome cache folder when none is given.

    ``$ATLASBENCH_GENOME_CACHE`` when set, else ``atlasbench/genomes`` under
    ``$XDG_CACHE_HOME`` (default ``~/.cache``).
    """
    given = os.environ.get(GENOME_CACHE_ENV)
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "atlasbench" / "genomes"


def _key(source: str, provider: str | None) -> str:
    """The cache folder name of a genome (see the module docstring)."""
    source = source.strip()
    if is_url(source):
        stem = _FASTA_SUFFIXES.sub("", Path(urlparse(source).path).name) or "genome"
        digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:8]
        return f"{file_stem(stem)}-{digest}"
    key = file_stem(source)
    return key if provider is None else f"{key}-{provider.lower()}"


@dataclass(frozen=True)
class FetchedGenome:
    """A genome in the cache.

    Attributes
    ----------
    source
        The assembly name or URL it was fetched by.
    provider
        genomepy's provider it came from (``"UCSC"``, ``"Ensembl"``, ..., ``"URL"``).
    folder
        Its cache folder.
    non_n_bases
        Sequence name -> bases other than N, in FASTA order.
    """

    source: str
    provider: str
    folder: Path
    non_n_bases: dict[str, int]

    @property
    def fasta(self) -> Path:
        """The bgzip FASTA (``.fai`` and ``.gzi`` beside it)."""
        return self.folder / _FASTA

    def effective_size(self, chromosomes: Iterable[str] | None = None) -> int:
        """Non-N bases over some sequences (any spelling, ``chr2L`` = ``2L``), or all of them.

        MACS3's effective genome size for an assembly it has no value of its own for;
        the same number :func:`atlasbench.io.genome.non_n_bases` counts, read from
        ``genome.json`` instead of the FASTA.

        Raises
        ------
        AtlasbenchError
            If a chromosome is not in the genome.
        """
        if chromosomes is None:
            return sum(self.non_n_bases.values())
        mapping, unknown = match_chromosomes(chromosomes, list(self.non_n_bases))
        if unknown:
            raise AtlasbenchError(
                f"genome {self.source}: chromosomes {unknown[:5]} are not in it (it has {list(self.non_n_bases)[:8]})"
            )
        return sum(self.non_n_bases[name] for name in mapping.values())


def cached_genome(
    source: str, cache_dir: str | os.PathLike[str] | None = None, provider: str | None = None
) -> FetchedGenome | None:
    """The genome fetched as ``source`` if the cache holds it complete, else None.

    Never touches the network. A genome counts as complete when its ``genome.json``, its
    FASTA and both indexes exist.

    Parameters
    ----------
    source
        Assembly name (``mm10``) or URL of a FASTA.
    cache_dir
        The cache folder; None for :func:`default_genome_cache`.
    provider
        genomepy provider the name was fetched from, when one was chosen.

    Returns
    -------
    FetchedGenome or None
    """
    folder = Path(cache_dir if cache_dir is not None else default_genome_cache()) / _key(source, provider)
    manifest = folder / _MANIFEST
    fasta = folder / _FASTA
    if not all(p.is_file() for p in (manifest, fasta, Path(f"{fasta}.fai"), Path(f"{fasta}.gzi"))):
        return None
    try:
        record = json.loads(manifest.read_text())
        counts = {str(k): int(v) for k, v in record["non_n_bases"].items()}
        return FetchedGenome(source.strip(), str(record["provider"]), folder, counts)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        logger.warning("genome %s: %s is damaged; fetching the genome again", source, manifest)
        return None


def fetch_genome(
    source: str, cache_dir: str | os.PathLike[str] | None = None, provider: str | None = None
) -> FetchedGenome:
    """A genome by assembly name or URL, downloaded once into the cache.

    A genome the cache already holds is returned at once, with no network access. Else
    it is downloaded with genomepy: a URL as it is, a name from the first provider that
    has it (GENCODE, Ensembl, UCSC, NCBI) or from ``provider``. The download is checked
    to be a FASTA, compressed to bgzip with its indexes, its non-N bases counted per
    sequence and ``genome.json`` written last (see the module docstring for the layout).
    Two processes fetching the same genome download it once: the second waits for the
    first's lock, then finds the genome complete.

    Parameters
    ----------
    source
        Assembly name as the providers spell it (``mm10``, ``hg38``, ``dm6``,
        ``GRCm39``), or the ``https://``, ``http://`` or ``ftp://`` URL of a FASTA
        (plain, gzip or bgzip).
    cache_dir
        The cache folder; None for :func:`default_genome_cache`.
    provider
        Fetch a name from this genomepy provider only (``gencode``, ``ensembl``,
        ``ucsc`` or ``ncbi``); None tries each in that order. Not used for a URL.

    Returns
    -------
    FetchedGenome
        The cached genome; its :attr:`~FetchedGenome.fasta` opens with
        :func:`atlasbench.io.genome.open_genome`.

    Raises
    ------
    AtlasbenchError
        Naming the genome and the cause: the URL unreachable or answered with an HTTP
        error, no provider has the name (or none can be reached), the download is not
        a FASTA, or the cache folder cannot be written.
    """
    from filelock import FileLock, Timeout

    source = source.strip()
    if not source:
        raise AtlasbenchError("genome: give an assembly name (e.g. mm10) or the URL of a FASTA")
    url = is_url(source)
    if provider is not None and not url and provider.lower() not in PROVIDERS:
        raise AtlasbenchError(f"genome {source}: unknown provider {provider!r}; choose one of {', '.join(PROVIDERS)}")
    cache = Path(cache_dir if cache_dir is not None else default_genome_cache())
    found = cached_genome(source, cache, None if url else provider)
    if found is not None:
        logger.debug("genome %s: cached in %s", source, found.folder)
        return found
    folder = cache / _key(source, None if url else provider)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AtlasbenchError(
            f"genome {source}: cannot write the genome cache {cache} ({exc}); choose another folder "
            f"(genome.cache in the study file, or the environment variable {GENOME_CACHE_ENV})"
        ) from exc
    lock = FileLock(str(cache / f"{folder.name}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.info("genome %s: another process is fetching it; waiting for it (lock %s)", source, lock.lock_file)
        lock.acquire()
    try:
        found = cached_genome(source, cache, None if url else provider)
        if found is not None:  # fetched by the process we waited for
            return found
        return _fetch_into(source, folder, None if url else provider)
    except BaseException:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty: a failed first fetch leaves no folder behind
        raise
    finally:
        lock.release()


def _fetch_into(source: str, folder: Path, provider: str | None) -> FetchedGenome:
    """Download ``source`` into ``folder`` (the lock is held) and index it."""
    (folder / _MANIFEST).unlink(missing_ok=True)  # from a damaged earlier copy
    download = folder / "download"
    shutil.rmtree(download, ignore_errors=True)  # left by a fetch that was killed
    download.mkdir(parents=True)
    try:
        started = time.monotonic()
        raw, found_at, link = _download(source, provider, download)
        _check_fasta(source, raw)
        logger.info("genome %s: downloaded from %s; writing an indexed bgzip copy to %s", source, found_at, folder)
        try:
            fasta = prepare_fasta(raw, folder / _FASTA)
        except AtlasbenchError as exc:
            raise AtlasbenchError(f"genome {source}: the download is not a FASTA samtools can index: {exc}") from exc
        with open_genome(fasta) as genome:
            names = list(genome.names)
        counts = {name: non_n_bases(fasta, [name]) for name in names}
        record = {
            "source": source,
            "provider": found_at,
            "url": link,
            "fasta": _FASTA,
            "fetched": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "sequences": len(counts),
            "effective_genome_size": sum(counts.values()),
            "non_n_bases": counts,
        }
        write_text_atomic(folder / _MANIFEST, json.dumps(record, indent=1) + "\n")
        logger.info(
            "genome %s: %d sequences, %s non-N bases, cached in %s (%.0f s)",
            source,
            len(counts),
            f"{sum(counts.values()):,}",
            folder,
            time.monotonic() - started,
        )
    finally:
        shutil.rmtree(download, ignore_errors=True)
    return FetchedGenome(source, found_at, folder, counts)


def _download(source: str, provider: str | None, folder: Path) -> tuple[Path, str, str]:
    """Download with genomepy into ``folder``: (the FASTA file, provider name, its URL)."""
    import genomepy.providers
    from genomepy.files import read_readme

    if is_url(source):
        _probe(source)
        chosen = genomepy.providers.create("url")
    else:
        chosen = _find_provider(source, provider)
    try:
        chosen.download_genome(source, genomes_dir=str(folder), localname="genome")
    except Exception as exc:  # any failure of the download names the genome and its cause
        raise AtlasbenchError(f"genome {source}: download from {chosen.name} failed: {exc}") from exc
    raw = folder / "genome" / "genome.fa"
    if not raw.is_file():
        raise AtlasbenchError(f"genome {source}: the download from {chosen.name} left no FASTA")
    link = source
    readme = folder / "genome" / "README.txt"
    if readme.is_file():
        link = str(read_readme(str(readme))[0].get("genome url", source))
    return raw, str(chosen.name), link


def _probe(url: str) -> None:
    """Open ``url`` once, so an unreachable server or an HTTP error is named clearly.

    (genomepy's download would save an error page as the genome.)
    """
    request = urllib.request.Request(url, headers={"User-Agent": "atlasbench"})
    try:
        with urllib.request.urlopen(request, timeout=_PROBE_TIMEOUT):
            pass
    except urllib.error.HTTPError as exc:
        raise AtlasbenchError(f"genome {url}: the server answered HTTP {exc.code} {exc.reason}; check the URL") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise AtlasbenchError(
            f"genome {url}: could not reach the server ({reason}); check the URL and that this machine is online "
            "(on a cluster, fetch it on a login node first: atlasbench genome fetch URL)"
        ) from exc


def _find_provider(name: str, provider: str | None):
    """The first genomepy provider (or ``provider``) that has assembly ``name``."""
    import genomepy.providers

    wanted = [provider.lower()] if provider is not None else list(PROVIDERS)
    searched, offline = [], []
    for key in wanted:
        try:
            candidate = genomepy.providers.create(key)
        except Exception as exc:  # noqa: BLE001 - an unreachable provider is noted; the others are tried
            logger.warning("genome %s: genome provider %s could not be reached (%s)", name, key, exc)
            offline.append(key)
            continue
        searched.append(str(candidate.name))
        if name in candidate.genomes:
            return candidate
    if not searched:
        raise AtlasbenchError(
            f"genome {name}: could not reach the genome provider(s) {', '.join(offline)}; is this machine online? "
            f"(on a cluster, fetch it on a login node first: atlasbench genome fetch {name})"
        )
    also = f" ({', '.join(offline)} could not be reached)" if offline else ""
    raise AtlasbenchError(
        f"genome {name}: no assembly of that name at {', '.join(searched)}{also}; check the spelling as the "
        "provider writes it (e.g. mm10, hg38, dm6, GRCm39; `genomepy search TEXT` lists them), or give "
        "genome.url or genome.fasta"
    )


def _check_fasta(source: str, path: Path) -> None:
    """Refuse a download that is not a FASTA (an error page, a 2bit file) by its first line."""
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    try:
        with gzip.open(path, "rb") if gzipped else open(path, "rb") as fh:
            head = fh.read(4096)
    except (OSError, EOFError) as exc:
        raise AtlasbenchError(f"genome {source}: the download is not a FASTA (unreadable gzip: {exc})") from exc
    text = head.lstrip()
    if not text.startswith(b">"):
        first = text.split(b"\n", 1)[0][:60].decode("utf-8", "replace")
        what = f"it starts with {first!r}" if text else "it is empty"
        raise AtlasbenchError(
            f"genome {source}: the download is not a FASTA ({what}; a FASTA starts with a '>name' line)"
        )
