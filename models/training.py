"""Shared torch helpers of the training scripts: seeding, the training loop, ONNX export and the
onnxruntime cross-check. Needs the `train` extra (torch, onnxscript); nothing at run time imports it.

Reproducibility: every script seeds torch (numpy randomness uses explicitly seeded generators), runs
single-threaded with deterministic algorithms and shuffles with a seeded generator, so a re-run on the
same torch build and CPU reproduces the same weights (bitwise equality across CPUs is not promised).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

OPSET = 17


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch, force deterministic single-threaded kernels; return a generator for shuffling."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    return torch.Generator().manual_seed(seed)


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def fit_classifier(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    lr: float,
    generator: torch.Generator,
    batch_size: int = 64,
    weight_decay: float = 0.0,
) -> None:
    """Train with Adam + cross-entropy and a cosine learning-rate schedule; leaves the model in eval mode."""
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * ((len(xt) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(xt), generator=generator).split(batch_size):
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
            sched.step()
    model.eval()


@torch.no_grad()
def torch_outputs(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Eval-mode float outputs of `model` on `x` (numpy in, numpy out)."""
    model.eval()
    return model(torch.from_numpy(x)).numpy()


def export_onnx(model: nn.Module, example: np.ndarray, path: Path, *, output_name: str) -> None:
    """Export with the TorchScript exporter (opset 17), batch dimension dynamic, one self-contained file."""
    model.eval()
    torch.onnx.export(
        model,
        (torch.from_numpy(example),),
        str(path),
        dynamo=False,
        opset_version=OPSET,
        input_names=["input"],
        output_names=[output_name],
        dynamic_axes={"input": {0: "batch"}, output_name: {0: "batch"}},
    )
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def classifier_metrics(torch_logits: np.ndarray, ort_logits: np.ndarray, labels: np.ndarray) -> dict:
    """Float accuracy of torch and onnxruntime on the test set and their label agreement."""
    torch_pred, ort_pred = torch_logits.argmax(1), ort_logits.argmax(1)
    return {
        "torch_test_accuracy": round(float((torch_pred == labels).mean()), 4),
        "onnxruntime_test_accuracy": round(float((ort_pred == labels).mean()), 4),
        "onnxruntime_torch_label_agreement": round(float((ort_pred == torch_pred).mean()), 4),
        "onnxruntime_torch_max_abs_diff": float(np.abs(ort_logits - torch_logits).max()),
    }
