"""The orchestration: the study file (schema, loader, presets, validation), scenarios,
the job graph with its records, the local, Dask and SLURM executors, and running a
study. Only this layer (and the CLI) knows a whole :class:`~atlasbench.study.schema.Study`."""
