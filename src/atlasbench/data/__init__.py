"""The data layer: from fragments to targets. Ingest and per-cell QC, library complexity,
nested read and cell downsampling, pseudobulk insertion counts, combined atlases,
peak calling and consensus regions, folds, and the AnnData targets."""
