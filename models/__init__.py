"""Shipped trained models: data preparation, seeded training/export scripts and the converted .aiem files.

Run from the repository root, e.g. `python -m models.mnist_mlp.train` (needs the `train` extra: torch)
and `python -m models.build` (needs only the runtime: the converter and the engine).
"""
