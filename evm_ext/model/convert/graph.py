"""Stage 1: load an ONNX model and normalise its graph before calibration.

Every rewrite keeps the function of the graph (same single input, same single output values) and only
removes or merges nodes:
- aliases: Identity, Dropout (inference mode) and float Casts of activations are removed;
- inverse Transpose pairs (the NHWC<->NCHW pairs tf2onnx and Keras put around convs) cancel, also across
  single-input elementwise ops between them, which commute with a transpose;
- Transpose(perm [1, 0]) feeding Gemm(transA=1) becomes Gemm(transA=0) on the untransposed input;
- a constant zero Pad of the spatial axes feeding a Conv, or an AveragePool that counts pads, moves into
  the consumer's `pads`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import helper, numpy_helper

from evm_ext.model.errors import ConversionError

FLOAT_TYPES = frozenset({onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16})
# Elementwise ops of one activation that commute with any transpose (their other inputs are scalars).
COMMUTING = frozenset(
    {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu", "Selu", "Softplus", "Clip"}
)


def load(model: onnx.ModelProto | str | Path) -> onnx.ModelProto:
    """A private copy of the model (a path is read); exactly one graph output."""
    if isinstance(model, onnx.ModelProto):
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        model = copy
    else:
        try:
            model = onnx.load(str(model))
        except (OSError, DecodeError) as exc:
            raise ConversionError(f"cannot read ONNX model {model}: {exc}") from None
    if len(model.graph.output) != 1:
        raise ConversionError(f"the model must have exactly one output, it has {len(model.graph.output)}")
    return model


def normalise(model: onnx.ModelProto) -> onnx.ModelProto:
    """Apply the rewrites of this module in place (see the module docstring); returns `model`."""
    _remove_aliases(model.graph)
    _cancel_transposes(model.graph)
    _untranspose_gemm(model.graph)
    _fold_pads(model.graph)
    return model


def attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def live_tensors(graph: onnx.GraphProto) -> set[str]:
    """Tensors whose value depends on the input's values (not through Shape or Size)."""
    live = {i.name for i in graph.input} - {i.name for i in graph.initializer}
    for node in graph.node:
        if node.op_type not in ("Shape", "Size") and any(n in live for n in node.input):
            live.update(n for n in node.output if n)
    return live


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """Initializers and Constant node values (what a rewrite may read without running the graph)."""
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and "value" in attrs(node):
            values[node.output[0]] = numpy_helper.to_array(attrs(node)["value"])
    return values


def _rewire(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
    for out in graph.output:
        if out.name == old:
            out.name = new


def _remove(graph: onnx.GraphProto, dead: list[onnx.NodeProto]) -> None:
    keep = [n for n in graph.node if not any(n is d for d in dead)]
    del graph.node[:]
    graph.node.extend(keep)


def _remove_aliases(graph: onnx.GraphProto) -> None:
    live = live_tensors(graph)
    dead = []
    for node in graph.node:
        is_float_cast = node.op_type == "Cast" and attrs(node).get("to") in FLOAT_TYPES
        alias = node.op_type in ("Identity", "Dropout") or (is_float_cast and node.input[0] in live)
        if alias and (node.op_type != "Dropout" or len([n for n in node.output if n]) == 1):
            _rewire(graph, node.output[0], node.input[0])
            dead.append(node)
    _remove(graph, dead)


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for n in node.input:
            readers.setdefault(n, []).append(node)
    for out in graph.output:
        readers.setdefault(out.name, []).append(None)
    return readers


def _producer(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {n: node for node in graph.node for n in node.output if n}


def _perm(node: onnx.NodeProto) -> list[int]:
    return list(attrs(node).get("perm", []))


def _cancel_transposes(graph: onnx.GraphProto) -> None:
    changed = True
    while changed:
        changed = False
        readers, producer = _consumers(graph), _producer(graph)
        for last in graph.node:
            if last.op_type != "Transpose" or not _perm(last):
                continue
            chain, src = [], producer.get(last.input[0])
            while src is not None and src.op_type in COMMUTING and len(readers[src.output[0]]) == 1:
                chain.append(src)
                src = producer.get(src.input[0])
            if (
                src is None
                or src.op_type != "Transpose"
                or len(readers[src.output[0]]) != 1
                or [_perm(src)[p] for p in _perm(last)] != list(range(len(_perm(last))))
            ):
                continue
            if chain:  # src -> chain[-1] -> ... -> chain[0] -> last
                chain[-1].input[0] = src.input[0]
                chain[0].output[0] = last.output[0]
            elif last.output[0] in {o.name for o in graph.output}:
                continue
            else:
                _rewire(graph, last.output[0], src.input[0])
            _remove(graph, [src, last])
            changed = True
            break


def _untranspose_gemm(graph: onnx.GraphProto) -> None:
    readers, producer = _consumers(graph), _producer(graph)
    dead = []
    for node in graph.node:
        src = producer.get(node.input[0]) if node.op_type == "Gemm" else None
        if (
            src is not None
            and attrs(node).get("transA", 0)
            and src.op_type == "Transpose"
            and _perm(src) == [1, 0]
            and len(readers[src.output[0]]) == 1
        ):
            node.input[0] = src.input[0]
            kept = [a for a in node.attribute if a.name != "transA"]
            del node.attribute[:]
            node.attribute.extend(kept)
            dead.append(src)
    _remove(graph, dead)


def spatial_pads(node: onnx.NodeProto, pads: np.ndarray | None) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) of a constant zero Pad of a rank-4 tensor's H and W axes, else None."""
    a = attrs(node)
    mode = a.get("mode", b"constant")
    if isinstance(mode, bytes):
        mode = mode.decode()
    if mode != "constant" or pads is None or pads.size != 8 or np.any(pads < 0):
        return None
    p = [int(v) for v in pads.reshape(-1)]
    if p[0] or p[1] or p[4] or p[5]:
        return None
    return (p[2], p[3], p[6], p[7])


def pad_inputs(node: onnx.NodeProto, values: dict[str, np.ndarray]) -> tuple[np.ndarray | None, float]:
    """(pads, constant value) of a Pad node: attributes before opset 11, inputs from 11 on."""
    a = attrs(node)
    if "pads" in a:
        return np.asarray(a["pads"]), float(a.get("value", 0.0))
    pads = values.get(node.input[1]) if len(node.input) > 1 else None
    value = values.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if len(node.input) > 3 and node.input[3]:
        return None, 0.0  # an axes input: not folded
    return pads, 0.0 if value is None else float(np.asarray(value).reshape(-1)[0])


def _fold_pads(graph: onnx.GraphProto) -> None:
    readers, values = _consumers(graph), _constants(graph)
    dead = []
    for node in graph.node:
        if node.op_type != "Pad" or len(readers.get(node.output[0], [])) != 1:
            continue
        (consumer,) = readers[node.output[0]]
        pads, value = pad_inputs(node, values)
        extra = spatial_pads(node, pads)
        if consumer is None or extra is None or value != 0.0 or consumer.input[0] != node.output[0]:
            continue
        a = attrs(consumer)
        mode = a.get("auto_pad", b"NOTSET")
        if (mode.decode() if isinstance(mode, bytes) else mode) != "NOTSET":
            continue
        if consumer.op_type == "AveragePool" and not a.get("count_include_pad", 0):
            continue
        if consumer.op_type not in ("Conv", "AveragePool"):
            continue
        old = list(a.get("pads", (0, 0, 0, 0)))
        if len(old) != 4:
            continue
        new = [o + e for o, e in zip(old, extra, strict=True)]
        kept = [x for x in consumer.attribute if x.name != "pads"]
        del consumer.attribute[:]
        consumer.attribute.extend([*kept, helper.make_attribute("pads", new)])
        consumer.input[0] = node.input[0]
        dead.append(node)
    _remove(graph, dead)


def uses(graph: onnx.GraphProto) -> Counter:
    """How many node inputs and graph outputs read each tensor."""
    count = Counter(n for node in graph.node for n in node.input if n)
    count.update(o.name for o in graph.output)
    return count
