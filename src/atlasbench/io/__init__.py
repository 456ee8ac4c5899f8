"""File formats and low-level access: fragments, barcodes, BGZF, genome FASTA, gene
annotation, intervals, atomic writes and figure files. Nothing here knows a study."""
