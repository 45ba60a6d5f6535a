"""Train a small DCGAN on the MNIST training images, export its generator to ONNX ("NFT art").

Run from the repository root: `python -m models.dcgan.train` (needs the `train` extra).
Generator (input float32 latent (batch, 16, 1, 1), standard normal; output (batch, 1, 28, 28) in [-1, 1]):
  ConvTranspose 16->64 7x7            -> BatchNorm -> ReLU   (64, 7, 7)
  ConvTranspose 64->32 4x4 stride 2   -> BatchNorm -> ReLU   (32, 14, 14)
  ConvTranspose 32->1 4x4 stride 2    -> Clip [-4, 4] -> Tanh (1, 28, 28)
The clip changes no pixel (tanh(4) is within 0.5/127.5 of 1) but bounds the range the converter must
quantize before the Tanh lookup table: without it the saturated background stretches that range to
about [-48, 8] and one int8 step moves a mid-gray pixel by up to 28 levels.
A pixel is `round((y + 1) * 127.5)` (sampling.py). Trained against a small conv discriminator on the
training split's images scaled to [-1, 1] (Adam 2e-4, betas (0.5, 0.999), standard non-saturating loss).
Writes next to this file: dcgan_generator.onnx (opset 17), calibration.npy float32 (200, 16, 1, 1)
seeded latents, samples.png (8x8 grid from fixed latents), metrics.json section "float".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from models import dataset, training
from models.build import float_outputs
from models.dcgan.sampling import CALIBRATION_SEED, LATENT, SAMPLES_SEED, latents, save_grid, to_pixels
from models.metrics import update_metrics

HERE = Path(__file__).resolve().parent
SEED = 3
EPOCHS = 40
BATCH = 64


def generator() -> nn.Module:
    return nn.Sequential(
        nn.ConvTranspose2d(LATENT, 64, 7, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),
        nn.Hardtanh(-4.0, 4.0),
        nn.Tanh(),
    )


def discriminator() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(32, 64, 4, stride=2, padding=1),
        nn.BatchNorm2d(64),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 1),
    )


def train(gen: nn.Module, disc: nn.Module, real: torch.Tensor, rng: torch.Generator) -> None:
    loss_fn = nn.BCEWithLogitsLoss()
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    gen.train()
    disc.train()
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(real), generator=rng).split(BATCH):
            batch = real[idx]
            ones, zeros = torch.ones(len(batch), 1), torch.zeros(len(batch), 1)
            fake = gen(torch.randn(len(batch), LATENT, 1, 1, generator=rng))
            opt_d.zero_grad()
            (loss_fn(disc(batch), ones) + loss_fn(disc(fake.detach()), zeros)).backward()
            opt_d.step()
            opt_g.zero_grad()
            loss_fn(disc(fake), ones).backward()
            opt_g.step()
    gen.eval()


def main() -> None:
    rng = training.seed_everything(SEED)
    train_images, _, _, _ = dataset.load_split()
    real = torch.from_numpy(dataset.normalize(train_images)[:, None] * 2 - 1)

    gen, disc = generator(), discriminator()
    train(gen, disc, real, rng)

    np.save(HERE / "calibration.npy", latents(dataset.CALIBRATION_SIZE, CALIBRATION_SEED))
    onnx_path = HERE / "dcgan_generator.onnx"
    sample_z = latents(64, SAMPLES_SEED)
    training.export_onnx(gen, sample_z[:1], onnx_path, output_name="image")
    torch_images = training.torch_outputs(gen, sample_z)
    ort_images = float_outputs(onnx_path, sample_z)
    save_grid(to_pixels(torch_images), HERE / "samples.png")
    metrics = {
        "params": training.count_params(gen),
        "onnxruntime_torch_max_abs_diff": float(np.abs(ort_images - torch_images).max()),
        "onnxruntime_torch_pixel_agreement": round(
            float((to_pixels(ort_images) == to_pixels(torch_images)).mean()), 4
        ),
    }
    update_metrics(HERE / "metrics.json", "float", metrics)
    print(metrics)


if __name__ == "__main__":
    main()
