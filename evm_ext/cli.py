"""The `aievm` command line: one entry point, one subcommand group per subsystem.

Each subsystem owns its own argparse wiring in a `register(subparsers)` function, imported lazily
so that `aievm --help` stays fast and a missing optional dependency only affects its own command.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# (module, short help) — each module exposes register(subparsers) -> None.
SUBSYSTEMS: list[tuple[str, str]] = [
    ("evm_ext.model.cli", "model"),
    ("solidity_patch.cli", "compile"),
    ("nodes.cli", "node"),
    ("nodes.opml.cli", "opml"),
    ("nodes.art.cli", "art"),
    ("benchmarks.cli", "bench"),
]
# (module, function, group): a command one subsystem adds to another's group (the model package does
# not import the node, so the node adds `aievm model deploy` here).
GROUP_COMMANDS: list[tuple[str, str, str]] = [("nodes.cli", "register_model_deploy", "model")]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aievm",
        description=(
            "aievm: an Ethereum devnet whose EVM runs neural networks.\n\n"
            "Convert a trained ONNX model to the on-chain format, compile Solidity that calls\n"
            "infer(model, input, output), run a local JSON-RPC node with the INFER opcode, deploy\n"
            "models to it, and benchmark the opcodes."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `aievm COMMAND --help` for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name, _ in SUBSYSTEMS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # subsystem not built yet
            raise
        module.register(sub)
    for module_name, function, group in GROUP_COMMANDS:
        if group in sub.choices:
            getattr(importlib.import_module(module_name), function)(_subcommands(sub.choices[group]))
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    """The subcommand action of a command group's parser."""
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _version() -> str:
    from evm_ext import __version__

    return f"aievm {__version__}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from evm_ext.errors import AievmError

    try:
        return int(args.func(args) or 0)
    except AievmError as exc:
        print(f"aievm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
