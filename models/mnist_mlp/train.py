"""Train the MNIST MLP (784-64-10, ReLU), export it to ONNX twice, record metrics.

Run from the repository root: `python -m models.mnist_mlp.train` (needs the `train` extra).
Writes, next to this file:
  mnist_mlp.onnx          TorchScript exporter, opset 17: Gemm -> Relu -> Gemm
  mnist_mlp_dynamo.onnx   the same weights as MatMul -> Add -> Relu -> MatMul -> Add through the dynamo
                          exporter (opset 20, other names and layout: a graph "someone else" made)
  calibration.npy         float32 (200, 784): normalized training images for quantization
  metrics.json            section "float": accuracies and the onnxruntime cross-check
Input: float32 (batch, 784), pixels / 255 row-major. Output: 10 logits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from models import dataset, training
from models.build import float_outputs
from models.metrics import update_metrics

HERE = Path(__file__).resolve().parent
SEED = 1


def build() -> nn.Module:
    return nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


class MatMulMLP(nn.Module):
    """The trained MLP written as explicit `x @ W + b` so that it exports as MatMul + Add, not Gemm."""

    def __init__(self, mlp: nn.Sequential) -> None:
        super().__init__()
        self.w1 = nn.Parameter(mlp[0].weight.detach().T.contiguous())
        self.b1 = nn.Parameter(mlp[0].bias.detach().clone())
        self.w2 = nn.Parameter(mlp[2].weight.detach().T.contiguous())
        self.b2 = nn.Parameter(mlp[2].bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x @ self.w1 + self.b1) @ self.w2 + self.b2


def export_dynamo(model: nn.Sequential, example: np.ndarray, path: Path) -> None:
    """Export the same weights as MatMul + Add through torch's dynamo exporter (its default opset)."""
    program = torch.onnx.export(
        MatMulMLP(model).eval(),
        (torch.from_numpy(example),),
        dynamo=True,
        dynamic_shapes=({0: torch.export.Dim("batch")},),
    )
    proto = program.model_proto
    for node in proto.graph.node:  # drop the exporter's debug stack traces (source paths, line numbers)
        del node.metadata_props[:]
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))


def main() -> None:
    generator = training.seed_everything(SEED)
    train_images, train_labels, _, _ = dataset.load_split()
    test_images, test_labels = dataset.load_test_set()
    x_train = dataset.normalize(train_images).reshape(-1, 784)
    x_test = dataset.normalize(test_images).reshape(-1, 784)

    model = build()
    training.fit_classifier(
        model, x_train, train_labels, epochs=40, lr=2e-3, weight_decay=1e-4, generator=generator
    )

    calibration = dataset.normalize(dataset.calibration_images(train_images)).reshape(-1, 784)
    np.save(HERE / "calibration.npy", calibration)
    logits = training.torch_outputs(model, x_test)
    metrics = {"params": training.count_params(model)}
    onnx_path = HERE / "mnist_mlp.onnx"
    training.export_onnx(model, x_test[:1], onnx_path, output_name="logits")
    ort_logits = float_outputs(onnx_path, x_test)
    metrics.update(training.classifier_metrics(logits, ort_logits, test_labels))
    dynamo_path = HERE / "mnist_mlp_dynamo.onnx"
    export_dynamo(model, x_test[:1], dynamo_path)
    dynamo_logits = float_outputs(dynamo_path, x_test)
    dynamo = training.classifier_metrics(logits, dynamo_logits, test_labels)
    metrics.update({f"dynamo_{k}": v for k, v in dynamo.items() if k.startswith("onnxruntime")})
    update_metrics(HERE / "metrics.json", "float", metrics)
    print(metrics)


if __name__ == "__main__":
    main()
