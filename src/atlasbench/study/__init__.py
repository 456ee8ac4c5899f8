"""The orchestration; the only layer (with the CLI) that knows a whole study.

- :mod:`~atlasbench.study.schema`: the study's typed sections; :mod:`~atlasbench.study.problems`: clear errors;
- :mod:`~atlasbench.study.loader`: the YAML study file; :mod:`~atlasbench.study.example`,
  :mod:`~atlasbench.study.presets`;
- :mod:`~atlasbench.study.validate`: checks of the files a study names, before any work;
- :mod:`~atlasbench.study.scenarios`: grid points and named scenarios;
- :mod:`~atlasbench.study.data_stages`, :mod:`~atlasbench.study.model_stages`: each stage with the study's settings;
- :mod:`~atlasbench.study.jobs`: the job graph; :mod:`~atlasbench.study.records`: what each job left;
- :mod:`~atlasbench.study.executors`, :mod:`~atlasbench.study.slurm`: local, Dask and SLURM;
- :mod:`~atlasbench.study.run`: running a study and its status; :mod:`~atlasbench.study.export`: bundles of its models.
"""

from atlasbench.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "schema": ["Study"],
        "problems": ["StudyError"],
        "loader": ["load_study", "parse_study"],
        "example": ["example_study_yaml"],
        "presets": ["write_preset"],
        "validate": ["check_study"],
        "data_stages": ["study_data"],
        "run": ["run_study", "study_status", "evaluation_table"],
        "export": ["export_study"],
    },
)
