"""A tokenURI taken apart: the metadata JSON, the PNG file, its pixels; and InferArt's attribute rules.

`decode_token_uri` is strict: a URI that is not `data:application/json;base64,` metadata with an
`image` of `data:image/png;base64,` decodable by Pillow as a 64x64 RGB image raises ArtError.
`attributes(seed, pixels)` recomputes the attributes from the pixels exactly as InferArt.sol does (integer
means, the same hue-sector rule), so a test can compare the contract's JSON with the engine's output.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from models.cppn.sampling import SIZE
from nodes.art.contract import ArtError

JSON_PREFIX = "data:application/json;base64,"
PNG_PREFIX = "data:image/png;base64,"


@dataclass(frozen=True)
class Token:
    metadata: dict
    png: bytes
    pixels: np.ndarray  # uint8 (SIZE, SIZE, 3)


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ArtError(f"{what} is not valid base64: {exc}") from None


def decode_token_uri(uri: str) -> Token:
    if not uri.startswith(JSON_PREFIX):
        raise ArtError(f"tokenURI does not start with {JSON_PREFIX!r}: {uri[:60]!r}")
    try:
        metadata = json.loads(_b64(uri[len(JSON_PREFIX) :], "the metadata"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtError(f"the metadata is not JSON: {exc}") from None
    image = metadata.get("image", "")
    if not image.startswith(PNG_PREFIX):
        raise ArtError(f"the metadata image is not a {PNG_PREFIX!r} URI")
    png = _b64(image[len(PNG_PREFIX) :], "the image")
    try:
        with Image.open(io.BytesIO(png)) as picture:
            picture.load()
            if picture.format != "PNG" or picture.mode != "RGB" or picture.size != (SIZE, SIZE):
                found = f"{picture.format} {picture.mode} {picture.size}"
                raise ArtError(f"the image is a {found} image, not a 64x64 RGB PNG")
            pixels = np.asarray(picture, np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ArtError(f"the image is not a valid PNG: {exc}") from None
    return Token(metadata, png, pixels)


def palette(r: int, g: int, b: int) -> str:
    """The hue sector named by the order of the channel means: InferArt._palette."""
    if r >= g >= b:
        return "Amber"
    if g > r >= b:
        return "Lime"
    if g >= b > r:
        return "Jade"
    if b > g > r:
        return "Azure"
    if b > r >= g:
        return "Violet"
    return "Rose"


def attributes(seed: int, pixels: np.ndarray) -> list[dict]:
    """InferArt's attribute list for a token of `seed` whose picture is `pixels`."""
    r, g, b = (int(v) // (SIZE * SIZE) for v in pixels.reshape(-1, 3).astype(np.int64).sum(axis=0))
    return [
        {"trait_type": "Seed", "value": f"0x{seed:064x}"},
        {"trait_type": "Palette", "value": palette(r, g, b)},
        {"trait_type": "Brightness", "display_type": "number", "value": (r + g + b) // 3},
    ]
