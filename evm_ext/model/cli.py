"""`aievm model ...`: convert ONNX to the on-chain format, inspect, run, encode inputs, decode outputs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from evm_ext.model.errors import ModelInputError
from evm_ext.model.identity import CHUNK_SIZE, chunk_count
from evm_ext.model.runtime import Model, load_model

if TYPE_CHECKING:
    from evm_ext.model.convert import Conversion


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `model` command group to the `aievm` parser (`deploy` is added by the node subsystem,
    through `evm_ext.cli`: this package does not import the node)."""
    fmt = argparse.RawDescriptionHelpFormatter
    model = subparsers.add_parser(
        "model",
        help="convert, inspect and run on-chain models (.aiem)",
        formatter_class=fmt,
        description="Work with on-chain models: int8 graphs in the canonical .aiem format "
        "(docs/model-format.md).",
        epilog="examples:\n"
        "  aievm model convert models/mnist_mlp/mnist_mlp.onnx -o mlp.aiem "
        "--calib models/mnist_mlp/calibration.npy\n"
        "  aievm model inspect mlp.aiem\n"
        "  aievm model run mlp.aiem --input x.npy --output y.npy",
    )
    model.set_defaults(func=lambda _args: model.print_help())
    sub = model.add_subparsers(dest="model_command", metavar="SUBCOMMAND")

    p = sub.add_parser(
        "convert",
        help="quantize an ONNX model with calibration data",
        formatter_class=fmt,
        description="Post-training static quantization (docs/quantization.md): int8 activations, "
        "per-channel int8 weights, int32 biases, lookup tables for nonlinearities.",
        epilog="examples:\n  aievm model convert models/mnist_cnn/mnist_cnn.onnx -o cnn.aiem "
        "--calib models/mnist_cnn/calibration.npy\n"
        "  aievm model convert models/zoo/resnet_block_b1.onnx -o resnet.aiem "
        "--calib models/zoo/calibration.npy --report\n\n"
        "The batch axis of the ONNX input may be symbolic or fixed (1 or N): calibration runs in chunks\n"
        "the model accepts. --report prints, per layer, the output scale and zero point, the weight\n"
        "scales, and the error against float on the calibration set, and names the worst layer.",
    )
    p.add_argument("onnx", type=Path, help="float ONNX model (one input, batch on axis 0, one output)")
    p.add_argument("-o", "--output", type=Path, required=True, help="where to write the .aiem file")
    p.add_argument("--calib", type=Path, required=True, help=".npy of float calibration inputs (N, ...)")
    p.add_argument(
        "--batch", type=int, default=256, help="calibration batch size if the model's batch axis is symbolic"
    )
    p.add_argument("--report", action="store_true", help="print per-layer quantization parameters and error")
    p.set_defaults(func=_convert)

    p = sub.add_parser(
        "inspect",
        help="layers, shapes, parameters, MACs and model id of a model",
        formatter_class=fmt,
        epilog="example:\n  aievm model inspect mlp.aiem",
    )
    p.add_argument("file", type=Path, help=".aiem model file")
    p.set_defaults(func=_inspect)

    p = sub.add_parser(
        "run",
        help="run float inputs through the integer engine (the off-chain reference)",
        formatter_class=fmt,
        description="Quantizes the inputs with the model's input parameters, runs the int8 "
        "graph and prints, per sample, the dequantized output and the raw int8 "
        "output bytes as 0x-hex (what INFER writes).",
        epilog="example:\n  aievm model run mlp.aiem --input x.npy --output y.npy",
    )
    p.add_argument("file", type=Path, help=".aiem model file")
    p.add_argument("--input", type=Path, required=True, help=".npy of one sample or a batch (first axis)")
    p.add_argument("--output", type=Path, help="save the dequantized outputs (batch on axis 0) as .npy")
    p.set_defaults(func=_run)

    p = sub.add_parser(
        "encode",
        help="print quantized input bytes (0x-hex, one line per sample)",
        formatter_class=fmt,
        epilog="example:\n  aievm model encode mlp.aiem --input x.npy",
    )
    p.add_argument("file", type=Path, help=".aiem model file")
    p.add_argument("--input", type=Path, required=True, help=".npy of one sample or a batch (first axis)")
    p.set_defaults(func=_encode)

    p = sub.add_parser(
        "decode",
        help="print the float output encoded by raw output bytes",
        formatter_class=fmt,
        epilog="example:\n  aievm model decode mlp.aiem 0x0a0bf3...",
    )
    p.add_argument("file", type=Path, help=".aiem model file")
    p.add_argument("hex", help="output bytes of one sample, 0x-hex")
    p.set_defaults(func=_decode)


def _load_inputs(model: Model, path: Path) -> np.ndarray:
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelInputError(f"cannot read input array {path}: {exc}") from None
    if not np.issubdtype(x.dtype, np.number):
        raise ModelInputError(f"{path}: expected a numeric array, got dtype {x.dtype}")
    return model.quantize_input(x)


def _convert(args: argparse.Namespace) -> None:
    from evm_ext.model.convert import conversion

    try:
        calib = np.load(args.calib, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelInputError(f"cannot read calibration data {args.calib}: {exc}") from None
    result = conversion(args.onnx, calib, batch=args.batch, keep=args.report)
    model = result.model
    cal = result.calibration
    axis = f"fixed at {cal.chunk}" if cal.fixed else "symbolic"
    print(f"calibrated on {len(calib)} samples, {cal.chunk} per run (the model's batch axis is {axis})")
    if args.report:
        _print_report(result, calib)
    args.output.write_bytes(model.encode())
    print(
        f"wrote {args.output}: {len(model.encode())} bytes, {len(model.ops)} ops, {model.params} parameters"
    )
    print(f"model id 0x{model.id.hex()}")


def _print_report(result: Conversion, calib: np.ndarray) -> None:
    from rich.console import Console
    from rich.table import Table

    from evm_ext.model.convert.report import layer_report, worst

    rows = layer_report(result, calib)
    table = Table(title=f"per-layer error against float on {len(calib)} calibration samples")
    for col in (
        "#",
        "op",
        "tensor",
        "scale",
        "zero point",
        "weight scales",
        "RMSE steps",
        "max steps",
        "SQNR dB",
    ):
        table.add_column(col, justify="left" if col in ("op", "tensor") else "right")
    for r in rows:
        table.add_row(
            str(r.index),
            r.kind,
            r.tensor,
            f"{r.scale:.6g}",
            str(r.zero_point),
            "" if r.weight_scales is None else f"{r.weight_scales[0]:.3g}..{r.weight_scales[1]:.3g}",
            "" if r.rmse_steps is None else f"{r.rmse_steps:.3f}",
            "" if r.max_steps is None else f"{r.max_steps:.2f}",
            "" if r.sqnr_db is None else f"{r.sqnr_db:.1f}",
        )
    console = Console(width=max(Console().width, 130))
    console.print(table)
    bad = worst(rows)
    if bad is not None:
        console.print(f"worst layer: #{bad.index} {bad.kind} {bad.tensor!r} (SQNR {bad.sqnr_db:.1f} dB)")


def _inspect(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    model = load_model(args.file)
    table = Table(title=f"{args.file}  ({len(model.encode())} bytes)")
    for col in ("#", "op", "inputs", "output shape", "scale", "zero point", "params", "MACs"):
        table.add_column(col, justify="right" if col in ("#", "params", "MACs") else "left")
    table.add_row(
        "",
        "input",
        "",
        str(model.input_shape),
        f"{model.source.scale:.6g}",
        str(model.source.zero_point),
        "",
        "",
    )
    for i, op in enumerate(model.ops):
        table.add_row(
            str(i + 1),
            op.kind.name.lower(),
            ", ".join(map(str, op.inputs)),
            str(op.out.shape),
            f"{op.out.scale:.6g}",
            str(op.out.zero_point),
            f"{op.params:,}",
            f"{op.macs:,}",
        )
    console = Console(width=max(Console().width, 110))  # pipes default to 80 columns
    console.print(table)
    console.print(
        f"parameters {model.params:,}   MACs/sample {sum(c.macs for c in model.op_costs()):,}   "
        f"input {model.input_size} bytes   output {model.output_size} bytes"
    )
    console.print(f"model id 0x{model.id.hex()} ({chunk_count(len(model.encode()))} code chunks of up to "
                  f"{CHUNK_SIZE:,} bytes)")


def _run(args: argparse.Namespace) -> None:
    model = load_model(args.file)
    y_q = model.run(_load_inputs(model, args.input))
    y = model.dequantize_output(y_q)
    with np.printoptions(precision=6, suppress=True, linewidth=120):
        for sample, raw in zip(y, y_q, strict=True):
            print(sample)
            print(f"0x{raw.tobytes().hex()}")
    if args.output:
        np.save(args.output, y)


def _encode(args: argparse.Namespace) -> None:
    model = load_model(args.file)
    for sample in _load_inputs(model, args.input):
        print(f"0x{sample.tobytes().hex()}")


def _decode(args: argparse.Namespace) -> None:
    model = load_model(args.file)
    text = args.hex[2:] if args.hex.lower().startswith("0x") else args.hex
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ModelInputError(f"not a hex string: {args.hex[:40]!r}") from None
    with np.printoptions(precision=6, suppress=True, linewidth=120):
        print(model.decode_output(raw))
