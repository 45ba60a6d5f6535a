"""Seeds in, pictures out: the numpy-only helpers shared by the CPPN construction script, models.build,
`aievm art` and the tests.

The generator takes float32 latents (batch, LATENT) and returns images (batch, SIZE, SIZE, 3) in [-1, 1],
rows top to bottom, each pixel R, G, B (the PNG scanline order). On chain, a token's INFER input is
`latent_bytes(seed)` (keccak-256 of the 32-byte big-endian seed, read as int8) and a pixel byte is
`output_byte + 128` (mod 256): `pixels()` is that rule, the same one `InferArt.sol` applies.
The converter picks input scale 1/127.5 and zero point 0 (from calibration latents that are int8 codes
divided by 127.5), so `dequantize(latent_bytes(seed))` quantizes back to exactly the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from eth_utils import keccak
from PIL import Image

SIZE = 64
LATENT = 32
INPUT_SCALE = 1 / 127.5
CALIBRATION_SEED = 11  # calibration.npy: latents(CALIBRATION_COUNT, CALIBRATION_SEED)
CALIBRATION_COUNT = 128
SAMPLES_SEED = 12  # samples.png / samples_int8.png: latents(16, SAMPLES_SEED)


def latent_bytes(seed: int) -> bytes:
    """The INFER input of a token: keccak-256 of its seed as a 32-byte big-endian word."""
    return keccak(seed.to_bytes(32, "big"))


def dequantize(latent: bytes) -> np.ndarray:
    """int8 latent bytes -> the float32 latent (1, LATENT) they encode (what `aievm model run` reads)."""
    return (np.frombuffer(latent, np.int8).astype(np.float32) / np.float32(127.5)).reshape(1, LATENT)


def latents(count: int, seed: int) -> np.ndarray:
    """`count` seeded latents of the on-chain kind: uniform int8 codes divided by 127.5."""
    codes = np.random.default_rng(seed).integers(-128, 128, (count, LATENT))
    return (codes / 127.5).astype(np.float32)


def pixels(output: bytes | np.ndarray) -> np.ndarray:
    """int8 generator output (bytes, or an int8 array (..., SIZE, SIZE, 3)) -> uint8 pixels: byte + 128."""
    q = np.frombuffer(output, np.int8) if isinstance(output, bytes) else np.asarray(output, np.int8)
    return (q.astype(np.int16) + 128).astype(np.uint8).reshape(-1, SIZE, SIZE, 3)


def grid(images: np.ndarray, columns: int = 4, border: int = 2) -> np.ndarray:
    """uint8 (n, SIZE, SIZE, 3) -> one RGB image of `columns` tiles per row, white borders."""
    rows = -(-len(images) // columns)
    tiles = np.full((rows * columns, SIZE, SIZE, 3), 255, np.uint8)
    tiles[: len(images)] = images
    tiles = np.pad(tiles, ((0, 0), (border, border), (border, border), (0, 0)), constant_values=255)
    side = SIZE + 2 * border
    return tiles.reshape(rows, columns, side, side, 3).transpose(0, 2, 1, 3, 4).reshape(
        rows * side, columns * side, 3
    )


def save_grid(images: np.ndarray, path: Path, columns: int = 4, zoom: int = 2) -> None:
    """Write a tile grid as a PNG, upscaled `zoom` times (nearest neighbour)."""
    image = Image.fromarray(grid(images, columns))
    image.resize((image.width * zoom, image.height * zoom), Image.NEAREST).save(path)
