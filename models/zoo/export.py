"""Train the zoo models on the 8x8 digits and export them the way people do, each at a fixed batch of 1
and at a symbolic batch.

Run from the repository root: `python -m models.zoo.export` (needs the `train` extra: torch, onnxscript,
keras). Writes next to this file (see `models/zoo/zoo.py` for the list and docs/models.md for results):
  cnn_legacy_{b1,dyn}.onnx     DigitsCNN, TorchScript exporter (`torch.onnx.export(..., dynamo=False)`)
  cnn_dynamo_{b1,dyn}.onnx     the same weights, dynamo exporter (`dynamo=True`)
  resnet_block_{b1,dyn}.onnx   a residual block with a squeeze-excitation gate, TorchScript exporter
  keras_cnn_{b1,dyn}.onnx      a Keras 3 Sequential CNN (torch backend), `model.export(format="onnx")`
  upsampler_{b1,dyn}.onnx      a decoder (nearest Upsample + Conv) of a digits autoencoder, TorchScript
  calibration_nchw.npy, calibration_nhwc.npy   the 200 calibration images in both layouts
  latents_calibration.npy, latents_test.npy    the encoder's codes of those and of the test images
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from models import training
from models.zoo import digits

HERE = Path(__file__).resolve().parent
SEED = 11
LATENT = 8


class DigitsCNN(nn.Module):
    """Conv-BN-ReLU6, ZeroPad2d + MaxPool, Conv-BN-HardSwish, Dropout, AdaptiveAvgPool(1), Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU6(),
            nn.ZeroPad2d(1),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3),
            nn.BatchNorm2d(32),
            nn.Hardswish(),
            nn.Dropout(0.1),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.features(x), 1))


class ResNetBlock(nn.Module):
    """Stem conv, then relu(x + se(block(x))) with a HardSigmoid squeeze-excitation gate, then a head."""

    def __init__(self, c: int = 16) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU())
        self.block = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
        )
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, 4, 1), nn.ReLU(), nn.Conv2d(4, c, 1), nn.Hardsigmoid()
        )
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(c * 16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = self.block(x)
        x = torch.relu(x + y * self.gate(y))
        x = self.pool(x)
        return torch.softmax(self.head(x.view(x.size(0), -1)), dim=1)


class Decoder(nn.Module):
    """Latent (8,) -> Linear -> (32, 2, 2) -> 2x nearest Upsample + Conv, twice -> Sigmoid (1, 8, 8)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(LATENT, 32 * 2 * 2), nn.ReLU(), nn.Unflatten(1, (32, 2, 2)))
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(32, 16, 3, padding=1),
            nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(16, 1, 3, padding=1),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.up(self.fc(z))


def export_legacy(model: nn.Module, example: np.ndarray, path: Path, *, symbolic: bool) -> None:
    """TorchScript exporter, opset 17; batch fixed at the example's (1) unless `symbolic`."""
    torch.onnx.export(
        model.eval(),
        (torch.from_numpy(example),),
        str(path),
        dynamo=False,
        opset_version=training.OPSET,
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}} if symbolic else None,
    )
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def export_dynamo(model: nn.Module, example: np.ndarray, path: Path, *, symbolic: bool) -> None:
    """The dynamo exporter at its default opset; its debug metadata (source paths) stripped."""
    program = torch.onnx.export(
        model.eval(),
        (torch.from_numpy(example),),
        dynamo=True,
        dynamic_shapes=({0: torch.export.Dim("batch")},) if symbolic else None,
    )
    proto = program.model_proto
    for node in proto.graph.node:
        del node.metadata_props[:]
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))


def keras_cnn(x_train: np.ndarray, y_train: np.ndarray):
    """A Keras 3 Sequential CNN (channels-last) trained with model.fit on the torch backend."""
    import keras

    keras.utils.set_random_seed(SEED)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(10),
            keras.layers.Softmax(),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, batch_size=64, epochs=40, verbose=0, shuffle=True)
    return model


def export_keras(model, path: Path, *, symbolic: bool) -> None:
    import keras

    spec = keras.InputSpec(shape=(None if symbolic else 1, 8, 8, 1), dtype="float32")
    model.export(str(path), format="onnx", input_signature=[spec], verbose=False)
    proto = onnx.load(str(path))
    for node in proto.graph.node:
        del node.metadata_props[:]
    onnx.save(proto, str(path))


def fit_autoencoder(decoder: Decoder, x: np.ndarray, generator: torch.Generator) -> nn.Module:
    """Train encoder + decoder with MSE (Adam, cosine schedule); returns the encoder."""
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, LATENT))
    params = [*encoder.parameters(), *decoder.parameters()]
    opt = torch.optim.Adam(params, lr=3e-3)
    epochs, batch = 150, 64
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * (-(-len(x) // batch)))
    xt = torch.from_numpy(x)
    for _ in range(epochs):
        for idx in torch.randperm(len(xt), generator=generator).split(batch):
            opt.zero_grad()
            nn.functional.mse_loss(decoder(encoder(xt[idx])), xt[idx]).backward()
            opt.step()
            sched.step()
    return encoder.eval()


def main() -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    x_train, y_train, x_test, _ = digits.split()
    calibration = x_train[: digits.CALIBRATION_SIZE]
    np.save(HERE / "calibration_nchw.npy", calibration)
    np.save(HERE / "calibration_nhwc.npy", digits.nhwc(calibration))

    generator = training.seed_everything(SEED)
    cnn = DigitsCNN()
    training.fit_classifier(cnn, x_train, y_train, epochs=60, lr=3e-3, weight_decay=1e-4, generator=generator)
    resnet = ResNetBlock()
    training.fit_classifier(
        resnet, x_train, y_train, epochs=40, lr=3e-3, weight_decay=1e-4, generator=generator
    )
    decoder = Decoder()
    encoder = fit_autoencoder(decoder, x_train, generator)
    decoder.eval()
    with torch.no_grad():
        np.save(HERE / "latents_calibration.npy", encoder(torch.from_numpy(calibration)).numpy())
        np.save(HERE / "latents_test.npy", encoder(torch.from_numpy(x_test)).numpy())
    latents = np.load(HERE / "latents_test.npy")

    for symbolic, tag in ((False, "b1"), (True, "dyn")):
        export_legacy(cnn, x_test[:1], HERE / f"cnn_legacy_{tag}.onnx", symbolic=symbolic)
        export_dynamo(cnn, x_test[:1], HERE / f"cnn_dynamo_{tag}.onnx", symbolic=symbolic)
        export_legacy(resnet, x_test[:1], HERE / f"resnet_block_{tag}.onnx", symbolic=symbolic)
        export_legacy(decoder, latents[:1], HERE / f"upsampler_{tag}.onnx", symbolic=symbolic)

    keras_model = keras_cnn(digits.nhwc(x_train), y_train)
    for symbolic, tag in ((False, "b1"), (True, "dyn")):
        export_keras(keras_model, HERE / f"keras_cnn_{tag}.onnx", symbolic=symbolic)


if __name__ == "__main__":
    main()
