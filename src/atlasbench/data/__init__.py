"""The data layer, from fragments to targets; each function takes files and its own settings.

- :mod:`~atlasbench.data.ingest`: validate fragments, map barcodes to annotated cells, the fragments store;
- :mod:`~atlasbench.data.qc`: per-cell QC (fragments, TSS enrichment, FRiP);
- :mod:`~atlasbench.data.complexity`: library complexity and saturation per cell;
- :mod:`~atlasbench.data.sampling`: seeded read thinning and stratified cell downsampling, nested or per fold;
- :mod:`~atlasbench.data.levels`: the names of grid levels;
- :mod:`~atlasbench.data.pseudobulk`: Tn5 insertion counts per cell type and level; bigWigs;
- :mod:`~atlasbench.data.level_counts`: pseudobulk's compiled pass over a batch of fragments;
- :mod:`~atlasbench.data.combine`: atlases pooled from several platforms;
- :mod:`~atlasbench.data.regions`: MACS3 peaks and consensus regions;
- :mod:`~atlasbench.data.folds`: fold schemes and splits;
- :mod:`~atlasbench.data.targets`: AnnData targets and their normalisation.
"""

from atlasbench.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ingest": ["Store", "ingest", "open_store", "read_cell_table", "keep_called_cells", "default_sample_name"],
        "qc": ["fragments_qc"],
        "complexity": ["library_complexity", "saturation_curve", "saturation_depth"],
        "sampling": ["thin_reads", "read_levels", "cell_levels"],
        "levels": ["FULL_LEVEL", "level_key", "reads_unit_words"],
        "pseudobulk": ["Pseudobulk", "pseudobulk", "export_bigwigs"],
        "combine": ["combine_stores"],
        "regions": ["read_bed", "write_bed", "call_peaks", "peaks_per_cell_type", "consensus_regions"],
        "folds": ["FoldScheme", "assign_folds", "split_masks"],
        "targets": ["build_targets", "normalize_peak_heights", "specific_regions", "read_targets", "write_targets"],
    },
)
