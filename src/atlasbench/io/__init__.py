"""File formats and low-level access; nothing here knows a study.

- :mod:`~atlasbench.io.fragments`: streaming, validating reader of 10x fragments files;
- :mod:`~atlasbench.io.fragment_lines`: its compiled parser of a block of lines;
- :mod:`~atlasbench.io.read_ahead`: the next block read on a thread while one is worked on;
- :mod:`~atlasbench.io.barcodes`: barcode packing and lookup;
- :mod:`~atlasbench.io.bgzf`: BGZF (bgzip) writing;
- :mod:`~atlasbench.io.genome`: FASTA access, chromosome names, sequence codes, one-hot;
- :mod:`~atlasbench.io.genome_fetch`: genomes fetched by assembly name or URL into a cache, once;
- :mod:`~atlasbench.io.annotation`: TSSs from a GTF/GFF3;
- :mod:`~atlasbench.io.intervals`: sorted genomic segments;
- :mod:`~atlasbench.io.jaspar`: JASPAR motifs, offline from pyjaspar's database;
- :mod:`~atlasbench.io.names`: the one rule from a name to a file name;
- :mod:`~atlasbench.io.cellranger`: sequenced read pairs from a Cell Ranger ATAC / ARC ``summary.csv``;
- :mod:`~atlasbench.io.atomic`, :mod:`~atlasbench.io.figures`: atomic writes of files and figures.
"""

from atlasbench.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "fragments": ["FragmentBatch", "FragmentReader"],
        "barcodes": ["BarcodeIndex"],
        "bgzf": ["BgzfWriter", "write_fragments"],
        "genome": [
            "Genome",
            "open_genome",
            "prepare_fasta",
            "match_chromosomes",
            "read_chrom_sizes",
            "write_chrom_sizes",
            "one_hot",
            "region_codes",
            "reverse_complement",
        ],
        "genome_fetch": ["FetchedGenome", "fetch_genome", "cached_genome", "default_genome_cache"],
        "annotation": ["read_tss"],
        "intervals": ["Segments"],
        "jaspar": ["Motif", "jaspar_motif", "jaspar_collection"],
        "names": ["file_stem"],
        "cellranger": ["read_cell_calls", "read_sequenced_read_pairs"],
        "atomic": ["atomic_path", "write_text_atomic"],
        "figures": ["save_figure"],
    },
)
