"""`aievm bench`: run the benchmarks, print the tables, optionally save JSON and a PNG plot."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

EXAMPLES = """\
examples:
  aievm bench --quick                         # every section, small counts (under a minute)
  aievm bench --json bench.json --plot bench.png
  aievm bench --only engine --only rpc        # just some sections
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE aievm bench   # let OpenBLAS pick its own kernel

sections: infer_gas (INFER gas/s vs ECRECOVER), solidity_baseline (INFER vs the same network in plain
Solidity), engine (vs numpy float32, onnxruntime, TFLite int8), rpc (JSON-RPC latency, throughput, RSS),
opml (optimistic-inference disputes: rounds, gas per party, one-step proof gas, time).
Every figure is compared with a baseline measured in the same run; targets are checked at the end.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmark INFER against ECRECOVER, plain Solidity, float/TFLite runtimes and over JSON-RPC",
        description="Benchmark the INFER opcode, the integer engine and the node. Prints rich tables; "
        "--json and --plot save the results.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="small counts and the MLP baseline only (< 1 min)"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results as JSON to FILE")
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="write a PNG figure of the results")
    parser.add_argument(
        "--markdown", type=Path, metavar="FILE.md", help="write the result tables as Markdown"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="SECTION",
        choices=("infer_gas", "solidity_baseline", "engine", "rpc", "opml"),
        help="run only this section (repeatable)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from benchmarks.report import markdown, plot, print_report
    from benchmarks.run import SECTIONS, run_bench
    from evm_ext.errors import AievmError

    for path in (args.json, args.plot, args.markdown):
        if path is not None and not path.resolve().parent.is_dir():
            raise AievmError(f"cannot write {path}: directory {path.resolve().parent} does not exist")
    console = Console()
    if not console.is_terminal:
        console.width = 160  # a log or pipe: keep table columns readable
    sections = tuple(name for name in SECTIONS if not args.only or name in args.only)
    with console.status("benchmarking...") as status:
        results = run_bench(
            args.quick, sections, progress=lambda name: status.update(f"benchmarking {name}...")
        )
    print_report(results, console)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        console.print(f"results written to {args.json}")
    if args.markdown:
        args.markdown.write_text(markdown(results))
        console.print(f"tables written to {args.markdown}")
    if args.plot:
        plot(results, args.plot)
        console.print(f"plot written to {args.plot}")
    return 0
