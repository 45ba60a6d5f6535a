"""Train the MNIST LeNet-style CNN, export it to ONNX, record metrics.

Run from the repository root: `python -m models.mnist_cnn.train` (needs the `train` extra).
Architecture (input float32 (batch, 1, 28, 28), pixels / 255):
  Conv 1->8 5x5 -> ReLU -> MaxPool 2   (8, 12, 12)
  Conv 8->16 5x5 -> ReLU -> MaxPool 2  (16, 4, 4)
  Flatten -> Linear 256->32 -> BatchNorm1d -> ReLU -> Linear 32->10 logits
The BatchNorm sits after a Linear layer, which the TorchScript exporter does not fuse (it only folds
BatchNorm into a preceding Conv), so the ONNX graph keeps a BatchNormalization node for the
converter's BN folding to handle.
Writes next to this file: mnist_cnn.onnx (opset 17), calibration.npy float32 (200, 1, 28, 28),
metrics.json section "float".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from torch import nn

from models import dataset, training
from models.build import float_outputs
from models.metrics import update_metrics

HERE = Path(__file__).resolve().parent
SEED = 2


def build() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(256, 32),
        nn.BatchNorm1d(32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )


def main() -> None:
    generator = training.seed_everything(SEED)
    train_images, train_labels, _, _ = dataset.load_split()
    test_images, test_labels = dataset.load_test_set()
    x_train = dataset.normalize(train_images)[:, None]
    x_test = dataset.normalize(test_images)[:, None]

    model = build()
    training.fit_classifier(
        model, x_train, train_labels, epochs=30, lr=3e-3, weight_decay=1e-4, generator=generator
    )

    np.save(HERE / "calibration.npy", dataset.normalize(dataset.calibration_images(train_images))[:, None])
    onnx_path = HERE / "mnist_cnn.onnx"
    training.export_onnx(model, x_test[:1], onnx_path, output_name="logits")
    ops = [node.op_type for node in onnx.load(str(onnx_path)).graph.node]
    if "BatchNormalization" not in ops:
        raise RuntimeError(f"the exporter folded the BatchNorm away (BN folding untested): {ops}")
    metrics = {"params": training.count_params(model), "onnx_ops": ops}
    logits = training.torch_outputs(model, x_test)
    ort_logits = float_outputs(onnx_path, x_test)
    metrics.update(training.classifier_metrics(logits, ort_logits, test_labels))
    update_metrics(HERE / "metrics.json", "float", metrics)
    print(metrics)


if __name__ == "__main__":
    main()
