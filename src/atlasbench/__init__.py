"""atlasbench: benchmark scATAC-seq platforms by the sequence-to-function models trained on their data.

The layers, lowest first, each a subpackage: :mod:`atlasbench.io` (file formats),
:mod:`atlasbench.data` (fragments to targets), :mod:`atlasbench.models`,
:mod:`atlasbench.readouts`, :mod:`atlasbench.simulate`, :mod:`atlasbench.report` and
:mod:`atlasbench.study` (the orchestration), with the CLI on top. The names below are the
usual entry points from a notebook; each loads its module on first use.
"""

import logging

from atlasbench.lazy import lazy_exports

__version__ = "0.1.0"

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "study.loader": ["load_study"],
        "study.run": ["run_study", "study_status", "evaluation_table"],
        "simulate.atlas": ["simulate_atlas", "simulated_study"],
        "models.trained": ["load_trained"],
        "models.predict": ["predict_sequences", "predict_fasta", "predict_bed"],
        "models.bundle": ["load_bundle", "predict_bundle"],
        "errors": ["AtlasbenchError"],
    },
)
__all__ = ["__version__", *__all__]

logging.getLogger(__name__).addHandler(logging.NullHandler())
