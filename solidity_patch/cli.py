"""`aievm compile`: Solidity (with the infer()/modelinfo() builtins) -> one JSON artifact per contract."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXAMPLES = """\
examples:
  aievm compile contracts/AIContract.sol               # -> build/contracts/AIContract.json
  aievm compile AIContract.sol -o out                   # -> out/AIContract.json
  aievm compile AIContract.sol --solc /usr/bin/solc     # native solc instead of solc-js
  aievm compile Lib.sol --include-path lib --no-cache   # imports also searched under lib/

Imports resolve like Hardhat and Foundry: "./x.sol" relative to the importer, "@scope/pkg/x.sol"
in the node_modules directories above FILE, and the remappings of the nearest remappings.txt above
FILE (Foundry format: [context:]prefix=target).

Solidity may call, with no import and no inline assembly:
  infer(address model, bytes memory input, bytes memory output) returns (bool)
  modelinfo(address model) returns (uint256 inputSize, uint256 outputSize)
and `import "aievm/AI.sol";` gives int8/int32 tensor helpers (see docs/solidity.md).
Artifacts are Hardhat-format JSON (abi, bytecode, deployedBytecode, linkReferences, metadata).
Compiles are cached in $AIEVM_CACHE_DIR (default ~/.cache/aievm/solc).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compile",
        help="compile Solidity that calls infer()/modelinfo() to EVM code with INFER/MODELINFO",
        description="Compile a Solidity file whose code may call the infer() and modelinfo() builtins.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="the .sol file to compile")
    parser.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        default=Path("build/contracts"),
        help="directory for <Contract>.json artifacts (default: build/contracts)",
    )
    parser.add_argument(
        "--solc", metavar="PATH", help="a native solc binary (default: solc-js from node_modules)"
    )
    parser.add_argument("--no-optimize", action="store_true", help="disable the optimizer")
    parser.add_argument("--runs", type=int, default=200, help="optimizer runs (default: 200)")
    parser.add_argument("--evm-version", default="prague", help="target EVM version (default: prague)")
    parser.add_argument(
        "--base-path",
        type=Path,
        help="root for source unit names and imports (default: cwd if FILE is under it)",
    )
    parser.add_argument(
        "--include-path",
        type=Path,
        action="append",
        default=[],
        help="extra directory searched for imports (repeatable)",
    )
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the compile cache")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from solidity_patch.compiler import compile_file
    from solidity_patch.disasm import code_bytes, opcode_offsets
    from solidity_patch.yul_patch import INFER_OPCODE, MODELINFO_OPCODE

    result = compile_file(
        args.file,
        solc=args.solc,
        optimize=not args.no_optimize,
        runs=args.runs,
        evm_version=args.evm_version,
        base_path=args.base_path,
        include_paths=tuple(args.include_path),
        use_cache=not args.no_cache,
    )
    for warning in result.warnings:
        print(warning.rstrip() + "\n", file=sys.stderr)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, artifact in result.items():
        path = args.output_dir / f"{name.replace('/', '_').replace(':', '_')}.json"
        path.write_text(json.dumps(artifact, indent=2) + "\n")
        runtime = code_bytes(artifact["deployedBytecode"])
        infers = len(opcode_offsets(runtime, INFER_OPCODE))
        infos = len(opcode_offsets(runtime, MODELINFO_OPCODE))
        print(f"{path}  runtime {len(runtime)} bytes, INFER x{infers}, MODELINFO x{infos}")
    print(f"compiled {len(result)} contract(s){' (cached)' if result.cache_hit else ''}", file=sys.stderr)
    return 0
