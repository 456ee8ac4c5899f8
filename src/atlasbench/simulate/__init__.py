"""In-silico scATAC atlases with known ground truth."""
