"""Sequence-to-function models, from architecture to a shareable bundle.

- :mod:`~atlasbench.models.architectures`: the architectures (one module each) and the registry of names;
- :mod:`~atlasbench.models.settings`: the training recipe (:class:`Training`, :class:`Finetune`);
- :mod:`~atlasbench.models.losses`: CREsted's losses;
- :mod:`~atlasbench.models.dataset`: sequences and targets as batches, with augmentation;
- :mod:`~atlasbench.models.train`: the training loop, early stopping, checkpoints;
- :mod:`~atlasbench.models.trained`: trained model folders;
- :mod:`~atlasbench.models.metrics`: correlations of predictions with targets;
- :mod:`~atlasbench.models.predict`: prediction of sequences, FASTA and BED;
- :mod:`~atlasbench.models.bundle`: one-file shareable models and fold ensembles;
- :mod:`~atlasbench.models.seqtable`: training on a table of sequences and activities.
"""

from atlasbench.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "architectures": ["build_model", "model_params", "count_parameters"],
        "settings": ["Training", "Finetune"],
        "losses": ["make_loss"],
        "dataset": ["SequenceData"],
        "train": ["train", "initial_model", "weights_digest"],
        "trained": ["TrainedModel", "load_trained", "save_trained"],
        "metrics": ["correlations"],
        "predict": ["predict", "predict_sequences", "predict_fasta", "predict_bed"],
        "bundle": ["Bundle", "export_bundle", "load_bundle", "predict_bundle"],
        "seqtable": ["read_sequence_table", "train_on_table"],
    },
)
