"""Latents in, pictures out: the numpy-only helpers shared by the DCGAN training script and models.build.

The generator takes float32 latents (batch, LATENT, 1, 1), standard normal, and returns images
(batch, 1, 28, 28) in [-1, 1]; a pixel is `round((y + 1) * 127.5)` clipped to 0..255.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

LATENT = 16
CALIBRATION_SEED = 3  # calibration.npy: latents(200, CALIBRATION_SEED)
SAMPLES_SEED = 4  # samples.png / samples_int8.png: latents(64, SAMPLES_SEED)


def latents(count: int, seed: int) -> np.ndarray:
    """`count` seeded standard-normal latent vectors in the generator's input layout."""
    return np.random.default_rng(seed).standard_normal((count, LATENT, 1, 1)).astype(np.float32)


def to_pixels(images: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] -> uint8 pixels."""
    return np.clip(np.round((np.asarray(images, np.float64) + 1) * 127.5), 0, 255).astype(np.uint8)


def grid(pixels: np.ndarray, columns: int = 8) -> np.ndarray:
    """uint8 (n, 1, 28, 28) -> one (rows*30, columns*30) uint8 image, each tile with a 1-pixel border."""
    rows = len(pixels) // columns
    tiles = np.pad(pixels[: rows * columns, 0], ((0, 0), (1, 1), (1, 1)))
    return tiles.reshape(rows, columns, 30, 30).transpose(0, 2, 1, 3).reshape(rows * 30, columns * 30)


def save_grid(pixels: np.ndarray, path: Path) -> None:
    """Write the sample grid as a PNG, upscaled 2x (nearest neighbour)."""
    image = Image.fromarray(grid(pixels))
    image.resize((image.width * 2, image.height * 2), Image.NEAREST).save(path)
