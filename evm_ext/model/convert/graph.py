"""Stage 1: load an ONNX model and normalise its graph before calibration.

Every rewrite keeps the function of the graph (same single input, same single output values) and only
removes or merges nodes:
- aliases: Identity, Dropout (inference mode) and float Casts of activations are removed;
- inverse Transpose pairs (the NHWC<->NCHW pairs tf2onnx and Keras put around convs) cancel, also across
  elementwise ops between them, which commute with a transpose (a constant operand, e.g. a bias or a
  decomposed BatchNormalization, is permuted to the untransposed layout);
- a Transpose feeding (through such ops) a ReduceMean with keepdims=0 goes, the mean's axes permuted;
- Transpose(perm [1, 0]) feeding Gemm(transA=1) becomes Gemm(transA=0) on the untransposed input.
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
# Elementwise ops of an activation and a constant: commute with a transpose once the constant is permuted.
WITH_CONSTANT = frozenset({"Add", "Sub", "Mul", "Div"})


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
    return model


def attrs(node: onnx.NodeProto) -> dict:
    """The node's attributes by name; string attributes as str."""
    values = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in values.items()}


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


def _is_alias(node: onnx.NodeProto, live: set[str]) -> bool:
    if node.op_type == "Dropout":
        return len([n for n in node.output if n]) == 1  # the mask output is not read
    is_float_cast = node.op_type == "Cast" and attrs(node).get("to") in FLOAT_TYPES
    return node.op_type == "Identity" or (is_float_cast and node.input[0] in live)


def _remove_aliases(graph: onnx.GraphProto) -> None:
    live = live_tensors(graph)
    outputs = {o.name for o in graph.output}
    while alias := next((n for n in graph.node if _is_alias(n, live)), None):
        src, out = alias.input[0], alias.output[0]
        produced = set(_producer(graph))
        _remove(graph, [alias])
        if out in outputs and src in produced:  # keep the graph output's name
            _rename(graph, src, out)
        else:
            _rewire(graph, out, src)


def _rename(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]


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


def _chain_input(node: onnx.NodeProto, values: dict[str, np.ndarray]) -> int | None:
    """Which input of a transpose-commuting node carries the activation (None: it does not commute)."""
    if node.op_type in COMMUTING:
        return 0
    if node.op_type in WITH_CONSTANT and len(node.input) == 2:
        const = [n in values for n in node.input]
        if const.count(False) == 1:
            return const.index(False)
    return None


def _reduced_axes(node: onnx.NodeProto, values: dict[str, np.ndarray]) -> list[int] | None:
    """The static axes of a ReduceMean with keepdims=0 (attribute before opset 18, input from 18 on)."""
    a = attrs(node)
    if node.op_type != "ReduceMean" or a.get("keepdims", 1):
        return None
    axes = a.get("axes")
    if axes is None and len(node.input) > 1:
        axes = values.get(node.input[1])
    return None if axes is None else [int(x) for x in np.asarray(axes).reshape(-1)]


def _cancel_transposes(graph: onnx.GraphProto) -> None:
    """Transpose(P) -> commuting chain -> Transpose(P^-1) or ReduceMean(keepdims=0): drop the transposes."""
    changed = True
    while changed:
        changed = False
        readers, producer, values = _consumers(graph), _producer(graph), _constants(graph)
        for last in graph.node:
            axes = _reduced_axes(last, values)
            if (last.op_type != "Transpose" or not _perm(last)) and axes is None:
                continue
            chain, src = [], producer.get(last.input[0])
            while src is not None and len(readers[src.output[0]]) == 1:
                k = _chain_input(src, values)
                if k is None:
                    break
                chain.append((src, k))
                src = producer.get(src.input[k])
            if src is None or src.op_type != "Transpose" or len(readers[src.output[0]]) != 1:
                continue
            perm = _perm(src)
            if not _cancels(perm, _perm(last) if axes is None else None, axes):
                continue
            if axes is None and not chain and last.output[0] in {o.name for o in graph.output}:
                continue
            for node, k in chain:
                _relayout_constant(graph, node, 1 - k, values, perm)
            if chain:  # src -> chain[-1] -> ... -> chain[0] -> last
                node, k = chain[-1]
                node.input[k] = src.input[0]
            if axes is not None:  # the mean now reduces the untransposed axes
                if not chain:
                    last.input[0] = src.input[0]
                _set_axes(graph, last, sorted(perm[x % len(perm)] for x in axes))
                _remove(graph, [src])
            elif chain:  # the inverse transpose goes too: its readers read the chain's end
                chain[0][0].output[0] = last.output[0]
                _remove(graph, [src, last])
            else:
                _rewire(graph, last.output[0], src.input[0])
                _remove(graph, [src, last])
            changed = True
            break


def _cancels(perm: list[int], inverse: list[int] | None, axes: list[int] | None) -> bool:
    """Transpose(perm) then Transpose(inverse) is the identity; or, with `axes`, a mean over those axes
    of the transposed tensor (keepdims=0) equals the mean over the permuted axes of the untransposed one
    (the kept axes stay in the same order)."""
    if not perm:
        return False
    if axes is None:
        return (
            inverse is not None and len(inverse) == len(perm) and [perm[p] for p in inverse] == sorted(perm)
        )
    reduced = {a % len(perm) for a in axes}
    kept = [perm[a] for a in range(len(perm)) if a not in reduced]
    return kept == sorted(kept)


def _set_axes(graph: onnx.GraphProto, node: onnx.NodeProto, axes: list[int]) -> None:
    if "axes" in attrs(node):
        kept = [x for x in node.attribute if x.name != "axes"]
        del node.attribute[:]
        node.attribute.extend([*kept, helper.make_attribute("axes", axes)])
    else:
        name = f"{node.input[1]}/untransposed/{node.output[0]}"
        graph.initializer.append(numpy_helper.from_array(np.array(axes, np.int64), name))
        node.input[1] = name


def _relayout_constant(
    graph: onnx.GraphProto, node: onnx.NodeProto, k: int, values: dict[str, np.ndarray], perm: list[int]
) -> None:
    """Input k of `node` (a constant broadcast in the layout after Transpose(perm)) in the layout before."""
    if k < 0 or k >= len(node.input) or node.input[k] not in values:
        return
    c = np.asarray(values[node.input[k]])
    if c.size == 1:
        return
    full = c.reshape((1,) * (len(perm) - c.ndim) + c.shape)
    name = f"{node.input[k]}/relaid/{node.output[0]}"
    graph.initializer.append(numpy_helper.from_array(full.transpose(np.argsort(perm)), name))
    node.input[k] = name


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


def uses(graph: onnx.GraphProto) -> Counter:
    """How many node inputs and graph outputs read each tensor."""
    count = Counter(n for node in graph.node for n in node.input if n)
    count.update(o.name for o in graph.output)
    return count
