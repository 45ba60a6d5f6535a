"""The plain-Solidity one-step verifier against the engine, byte for byte, on py-evm's stock CancunVM.

Every op kind of the shipped models (fully_connected, conv, conv_transpose, max_pool, lookup, reshape)
and the other single-input kinds (avg_pool, transpose, softmax, argmax): sampled chunks of every op of
the shipped models, and whole outputs of random single ops covering groups, depthwise, stride, dilation,
pads, output padding, count_include_pad, axes, keepdims, fused clamps and input zero points.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak

from evm_ext.model import Model, load_model
from evm_ext.model import ops as op_types
from evm_ext.model.quantize import softmax_table
from evm_ext.tensor.conv import Geometry
from nodes.opml.commitment import CHUNK
from nodes.opml.trace import trace
from tests.opml_fixtures import PlainChain, decode, encode

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
SHIPPED = [
    "mnist_mlp/mnist_mlp.aiem",
    "mnist_cnn/mnist_cnn.aiem",
    "dcgan/dcgan_generator.aiem",
    "cppn/cppn.aiem",
]


@pytest.fixture(scope="module")
def verifier():
    chain = PlainChain()
    return chain, chain.deploy("OneStepVerifier")


def _call(verifier, fn: str, *args):
    chain, address = verifier
    _, computation = chain.send(address, encode("OneStepVerifier", fn, *args))
    if not computation.is_success:
        raise AssertionError(computation.error)
    return decode("OneStepVerifier", fn, computation.output)


@pytest.mark.parametrize("path", SHIPPED)
def test_shipped_model_chunks_match_the_engine(verifier, path):
    model = load_model(ROOT / "models" / path)
    raw = model.encode()
    x = np.random.default_rng(7).integers(-128, 128, model.input_size).astype(np.int8).tobytes()
    values = trace(model, x)
    assert values[-1] == model.run_bytes(x)
    rng = np.random.default_rng(3)
    for k, op in enumerate(model.ops):
        n = -(-op.out.size // CHUNK)
        for j in sorted({0, int(rng.integers(n)), n - 1}):
            got = _call(verifier, "chunkOf", raw, k, [values[i] for i in op.inputs], j)
            assert got == values[k + 1][j * CHUNK : (j + 1) * CHUNK], (path, k, j)
        ops, inputs, size = _call(verifier, "opShapeOf", raw, k)
        assert (ops, list(inputs), size) == (len(model.ops), list(op.inputs), op.out.size)


def _requant(rng, channels: int, fan_in: int, clamp: bool) -> op_types.Requant:
    shift = 31 + round(math.log2(math.sqrt(fan_in) * 6000 / 40))
    zp = int(rng.integers(-30, 30))
    lo, hi = (zp, 127) if clamp else (-128, 127)
    return op_types.Requant(
        0.05,
        zp,
        lo,
        hi,
        rng.integers(1 << 30, 1 << 31, channels).astype(np.uint32),
        (shift + rng.integers(-1, 2, channels)).astype(np.uint8),
    )


def _random_op(kind: str, seed: int) -> Model:
    rng = np.random.default_rng(seed)
    w = lambda *s: rng.integers(-127, 128, s).astype(np.int8)  # noqa: E731
    b = lambda n: rng.integers(-3000, 3000, n).astype(np.int32)  # noqa: E731
    zp = int(rng.integers(-128, 128))
    if kind == "fully_connected":
        k, c = int(rng.integers(1, 200)), int(rng.integers(1, 70))
        x = op_types.Value((k,), 0.1, zp)
        op = op_types.FullyConnected((0,), [x], w(c, k), b(c), _requant(rng, c, k, bool(seed % 2)))
        return Model(x, [op])
    cin = int(rng.choice([1, 2, 4, 6]))
    x = op_types.Value((cin, int(rng.integers(3, 10)), int(rng.integers(3, 10))), 0.1, zp)
    kh, kw = (int(v) for v in rng.integers(1, 4, 2))
    stride = tuple(int(v) for v in rng.integers(1, 3, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
    if kind == "conv":
        groups = int(rng.choice([g for g in (1, 2, cin) if cin % g == 0]))
        cout = groups * int(rng.integers(1, 4))
        pads = tuple(int(v) for v in rng.integers(0, 3, 4))
        op = op_types.Conv(
            (0,),
            [x],
            w(cout, cin // groups, kh, kw),
            b(cout),
            groups,
            Geometry((kh, kw), stride, dilation, pads),
            _requant(rng, cout, cin * kh * kw, seed % 2 == 0),
        )
    elif kind == "conv_transpose":
        groups = int(rng.choice([g for g in (1, 2) if cin % g == 0]))
        cout = groups * int(rng.integers(1, 4))
        pads = tuple(int(v) for v in rng.integers(0, 2, 4))
        out_pad = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation, strict=True))
        op = op_types.ConvTranspose(
            (0,),
            [x],
            w(cin, cout // groups, kh, kw),
            b(cout),
            groups,
            Geometry((kh, kw), stride, dilation, pads),
            out_pad,
            _requant(rng, cout, cin * kh * kw, seed % 2 == 1),
        )
    elif kind == "max_pool":
        ext = [d * (k - 1) + 1 for k, d in zip((kh, kw), dilation, strict=True)]
        pads = tuple(int(rng.integers(0, e)) for e in ext * 2)
        op = op_types.MaxPool((0,), [x], Geometry((kh, kw), stride, dilation, pads))
    elif kind == "lookup":
        op = op_types.Lookup((0,), [x], 0.2, int(rng.integers(-128, 128)), w(256))
    elif kind == "avg_pool":
        pads = tuple(int(rng.integers(0, k)) for k in (kh, kw) * 2)
        op = op_types.AvgPool((0,), [x], Geometry((kh, kw), stride, (1, 1), pads), bool(seed % 2))
    elif kind == "transpose":
        shape = (*x.shape[1:], x.shape[0]) if seed % 2 else (x.shape[2], x.shape[0] * x.shape[1])
        x = op_types.Value(shape, 0.1, zp)
        op = op_types.Transpose((0,), [x], tuple(int(p) for p in rng.permutation(len(shape))))
    elif kind in ("softmax", "argmax"):
        axis = int(rng.integers(0, 3))
        if kind == "softmax":
            op = op_types.Softmax((0,), [x], axis, softmax_table(float(rng.uniform(0.02, 0.3))))
        else:
            op = op_types.ArgMax((0,), [x], axis, bool(seed % 2))
    elif kind in ("add", "mul"):  # value 1 is x's per-channel mean (C, 1, 1): broadcast as in the CPPN
        mean = op_types.AvgPool((0,), [x], Geometry(x.shape[1:], (1, 1), (1, 1), (0, 0, 0, 0)), True)
        inputs = (1, 0) if seed % 2 else (0, 1)
        ins = [(x, mean.out)[i] for i in inputs]
        if kind == "add":
            mults = (int(rng.integers(1 << 30, 1 << 31)), int(rng.integers(1 << 28, 1 << 31)))
            op = op_types.Add(inputs, ins, 0.1, int(rng.integers(-20, 20)), -128, 127, mults, 31)
        else:
            op = op_types.Mul(inputs, ins, _requant(rng, 1, 1 << 12, bool(seed % 2)))
        return Model(x, [mean, op])
    else:
        op = op_types.Reshape((0,), [x], (x.shape[1], x.size // x.shape[1]))
    return Model(x, [op])


KINDS = [
    "fully_connected",
    "conv",
    "conv_transpose",
    "max_pool",
    "lookup",
    "reshape",
    "avg_pool",
    "transpose",
    "softmax",
    "argmax",
    "add",
    "mul",
]


@pytest.mark.parametrize("kind", KINDS)
def test_random_ops_match_the_engine(verifier, kind):
    for seed in range(5):
        model = _random_op(kind, seed)  # the op under test is the last one
        x = np.random.default_rng(100 + seed).integers(-128, 128, model.input_size).astype(np.int8).tobytes()
        values = trace(model, x)
        # the reference engine (evm_ext.model ops, numpy): the commitment's trace is computed with it
        k, xs, expected = len(model.ops) - 1, [values[i] for i in model.ops[-1].inputs], values[-1]
        assert _call(verifier, "outputOf", model.encode(), k, xs) == expected, (kind, seed)
        n = -(-len(expected) // CHUNK)
        assert _call(verifier, "chunkOf", model.encode(), k, xs, n - 1) == expected[(n - 1) * CHUNK :]


def _reverts(verifier, args: tuple, error: str, *params) -> None:
    chain, address = verifier
    _, computation = chain.send(address, encode("OneStepVerifier", "chunkOf", *args))
    assert not computation.is_success
    types = error[error.index("(") + 1 : -1].split(",") if params else []
    assert computation.output == keccak(error.encode())[:4] + abi_encode(types, list(params))


def test_a_value_read_by_several_ops_keeps_its_zero_point(verifier):
    """The input feeds a lookup (whose output has another zero point) and then a fully connected layer."""
    rng = np.random.default_rng(5)
    x = op_types.Value((40,), 0.1, 17)
    table = rng.integers(-128, 128, 256).astype(np.int8)
    lookup = op_types.Lookup((0,), [x], 0.2, -90, table)
    fc = op_types.FullyConnected(
        (0,),
        [x],
        rng.integers(-127, 128, (20, 40)).astype(np.int8),
        rng.integers(-3000, 3000, 20).astype(np.int32),
        _requant(rng, 20, 40, False),
    )
    model = Model(x, [lookup, fc])
    inp = rng.integers(-128, 128, 40).astype(np.int8).tobytes()
    assert _call(verifier, "outputOf", model.encode(), 1, [inp]) == model.run_bytes(inp)


def test_unsupported_kind_and_bad_input_revert_with_reasons(verifier):
    x = op_types.Value((10,), 0.1, 0)
    rq = op_types.Requant(0.1, 0, -128, 127, np.full(2, 1 << 30, np.uint32), np.full(2, 30, np.uint8))
    concat = Model(x, [op_types.Concat((0, 0), [x, x], 0, rq)])
    _reverts(verifier, (concat.encode(), 0, [bytes(10)] * 2, 0), "UnsupportedOp(uint256,uint256)", 0, 11)
    fc = _random_op("fully_connected", 1)
    short = bytes(fc.input_size - 1)
    _reverts(
        verifier, (fc.encode(), 0, [short], 0), "BadInput(uint256,uint256)", fc.input_size - 1, fc.input_size
    )
    two = [bytes(fc.input_size)] * 2
    _reverts(verifier, (fc.encode(), 0, two, 0), "BadInput(uint256,uint256)", 2, 1)
    _reverts(verifier, (b"AIEM\x02" + bytes(20), 0, [b""], 0), "BadModel(string)", "not an aievm model v1")
    _reverts(
        verifier, (fc.encode()[:-1], 0, [bytes(fc.input_size)], 0), "BadModel(string)", "truncated op body"
    )
