"""The calibration sweep: models built in code (`evm_ext.model.builder`) plus the shipped ones.

Each shape stresses one term of the gas formula: per-op overhead, MACs, elements, weight bytes (float32 and
float64 GEMM operands, `slow`/`fast` paths), weights streamed from DRAM, and the cold path's chunk
accesses, copy and decode (many ops, many chunks, the largest allowed model).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evm_ext.model import Model, load_model
from evm_ext.model.builder import Graph, mlp

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = {
    "mnist_mlp": ROOT / "models/mnist_mlp/mnist_mlp.aiem",
    "mnist_cnn": ROOT / "models/mnist_cnn/mnist_cnn.aiem",
    "dcgan": ROOT / "models/dcgan/dcgan_generator.aiem",
}


def tiny_ops(n: int = 255) -> Model:
    """`n` one-element lookups: the per-op overhead dominates."""
    g = Graph((1,))
    i = 0
    for _ in range(n):
        i = g.lookup(i)
    return g.model()


def huge_fan_in(fan_in: int = 1 << 15, out: int = 4) -> Model:
    """One FC with the maximum fan-in: MACs without elements."""
    g = Graph((fan_in,))
    g.fc(0, out)
    return g.model()


def big_conv(channels: int = 32, hw: int = 32, k: int = 3, slow: bool = False, fast: bool = False) -> Model:
    """A 3x3 conv, `channels` in and out, on hw x hw."""
    g = Graph((channels, hw, hw), slow=slow, fast=fast)
    g.conv(0, channels, k)
    return g.model()


def weight_bound_fc(size: int = 1536, slow: bool = False) -> Model:
    """One FC `size` -> `size`: a float32 (float64 on the slow path) weight matrix streamed once per INFER."""
    g = Graph((size,), slow=slow, fast=not slow)
    g.fc(0, size)
    return g.model()


def fc_chain(width: int = 700, layers: int = 8, slow: bool = True) -> Model:
    """`layers` FCs `width` -> `width`: each op's weights fit the cache, all of them do not. With the
    defaults, 3.9 MB of float32 operands per layer (a fan-in of 700 keeps float32 even at +-127), 15.7 MB
    together: about the machine's last-level cache, the size whose time depends most on what else runs
    (measured 0.5-1.1 ms per INFER between quiet and busy runs)."""
    g = Graph((width,), slow=slow)
    i = 0
    for _ in range(layers):
        i = g.fc(i, width)
    return g.model()


def conv_to_one_position(channels: int = 512, k: int = 3, slow: bool = True) -> Model:
    """A k x k conv without padding on a k x k input: one output position, a matrix-vector product."""
    g = Graph((channels, k, k), slow=slow)
    g.conv(0, channels, k, pad=0)
    return g.model()


def depthwise_conv(channels: int = 64, hw: int = 32, slow: bool = False) -> Model:
    """A 3x3 depthwise conv: few MACs per output, many elements."""
    g = Graph((channels, hw, hw), slow=slow)
    g.conv(0, channels, 3, groups=channels)
    return g.model()


def tanh_heavy(elements: int = 1 << 16, layers: int = 16) -> Model:
    """A chain of tanh lookups over a large tensor."""
    g = Graph((elements,))
    i = 0
    for _ in range(layers):
        i = g.lookup(i)
    return g.model()


def elementwise_mix(elements: int = 1 << 14) -> Model:
    """Add, Mul, Concat, Transpose, pools, softmax and argmax on mid-size tensors."""
    g = Graph((16, 16, elements // 256))
    a = g.lookup(0)
    b = g.add(0, a)
    c = g.mul(b, a)
    d = g.concat((c, b), 0)
    e = g.transpose(d, (0, 2, 1))
    f = g.pool(e, 2, average=True)
    h = g.pool(f, 2, average=False)
    r = g.reshape(h, (g.values[h].size // 8, 8))
    s = g.softmax(r)
    g.argmax(s)
    return g.model()


def generator(latent: int = 64, slow: bool = False) -> Model:
    """A DCGAN-like generator: FC, reshape, transposed convs, tanh."""
    g = Graph((latent,), slow=slow)
    i = g.fc(0, 64 * 7 * 7)
    i = g.reshape(i, (64, 7, 7))
    i = g.conv_transpose(i, 32, 2, 2)
    i = g.lookup(i, lambda x: np.maximum(x, 0))
    i = g.conv_transpose(i, 1, 2, 2)
    g.lookup(i)
    return g.model()


def upsampler(cin: int, cout: int, hw: int, k: int = 4, stride: int = 2, slow: bool = False,
              fast: bool = False) -> Model:
    """One transposed conv (the DCGAN building block)."""
    g = Graph((cin, hw, hw), slow=slow, fast=fast)
    g.conv_transpose(0, cout, k, stride)
    return g.model()


def sweep(largest: bool = True) -> dict[str, Model]:
    """The calibration sweep: built models plus the shipped ones that exist (and `largest_model`)."""
    models = {
        "mlp_784_128_10": mlp(),
        "mlp_tiny_4_4": mlp((4, 4)),
        "tiny_ops_255": tiny_ops(),
        "huge_fan_in_32768": huge_fan_in(),
        "big_conv_32x32x32": big_conv(),
        "depthwise_64x32x32": depthwise_conv(),
        "tanh_heavy_64k_x16": tanh_heavy(),
        "elementwise_mix": elementwise_mix(),
        "generator": generator(),
        "big_conv_slow_path": big_conv(128, 8, slow=True),
        "depthwise_slow_path": depthwise_conv(slow=True),
        "generator_slow_path": generator(slow=True),
        "conv_128_on_3x3_slow_path": big_conv(128, 3, slow=True),
        "conv_256_on_3x3_slow_path": big_conv(256, 3, slow=True),
        "conv_512_on_3x3_fast_path": big_conv(512, 3, fast=True),
        "conv_512_on_3x3_slow_path": big_conv(512, 3, slow=True),
        "fc_1536_fast_path": weight_bound_fc(),
        "fc_2000_slow_path": weight_bound_fc(2000, slow=True),
        "fc_chain_8x700_slow_path": fc_chain(),
        "fc_chain_32x350_slow_path": fc_chain(350, 32),
        "conv_512_to_1x1_slow_path": conv_to_one_position(),
        "conv_transpose_512_on_1x1_slow_path": upsampler(512, 512, 1, k=2, slow=True),
        "conv_transpose_512_on_3x3_slow_path": upsampler(512, 512, 3, k=2, slow=True),
        "conv_transpose_512_on_3x3_fast_path": upsampler(512, 512, 3, k=2, fast=True),
        "mlp_1000_1000_10": mlp((1000, 1000, 10)),
        "many_chunks_fc_2048": weight_bound_fc(2048),
    }
    models.update({name: load_model(path) for name, path in SHIPPED.items() if path.exists()})
    if largest:
        models["largest_32mib"] = largest_model()
    return models


def largest_model() -> Model:
    """One FC 4,096 -> 8,160 with small weights: 33,496,891 bytes, just under the 32 MiB limit (1,364
    chunks), the most bytes to access, copy and decode; its GEMM operand is 134 MB of float32."""
    g = Graph((4096,), fast=True)
    g.fc(0, 8160)
    return g.model()
