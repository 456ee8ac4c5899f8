"""Sequence-to-function models: architectures and their registry, losses, the training
dataset and loop, trained model folders, prediction, shareable bundles and training on
a sequence table."""
