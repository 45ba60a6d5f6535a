"""Compile Solidity that calls the `infer`/`modelinfo` builtins into EVM code with INFER/MODELINFO.

Pipeline (one way for every contract, builtins used or not):
1. collect the source units (imports followed) and make the builtins visible (`sources`);
2. solc, Solidity -> unoptimized Yul IR, ABI and metadata of every contract (one compile);
3. per contract with code: replace the builtins' IR functions by `verbatim` opcodes (`yul_patch`),
   then solc, Yul -> bytecode with the optimizer (one compile each: Yul mode takes one source).
The IR of a contract embeds the IR of the contracts it creates with `new`, so those are patched too.
ABIs come from step 2 and equal a plain compile's: free functions never appear in an ABI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from solidity_patch import cache
from solidity_patch.backends import Backend, get_backend
from solidity_patch.errors import CompileError, CompilerError
from solidity_patch.sources import (
    BUILTINS_UNIT,
    collect_sources,
    node_modules_dirs,
    read_remappings,
    read_text,
    with_builtins,
)
from solidity_patch.yul_patch import patch_ir

# Bump when a change here changes the produced artifacts (invalidates the compile cache).
PIPELINE_VERSION = 1

Artifact = dict[str, Any]

_YUL_OUTPUTS = [
    "evm.bytecode.object",
    "evm.bytecode.linkReferences",
    "evm.deployedBytecode.object",
    "evm.deployedBytecode.linkReferences",
    "evm.deployedBytecode.immutableReferences",
]


class Compilation(dict[str, Artifact]):
    """Contract name -> artifact (`source:Name` where a name occurs in several units).

    `cache_hit` tells whether it came from the compile cache; `warnings` are solc's formatted
    warnings about the user's sources.
    """

    def __init__(self, artifacts: dict[str, Artifact], warnings: list[str], cache_hit: bool):
        super().__init__(artifacts)
        self.warnings = warnings
        self.cache_hit = cache_hit


def compile_source(
    source: str,
    filename: str = "Contract.sol",
    *,
    solc: str | Path | Backend | None = None,
    optimize: bool = True,
    runs: int = 200,
    evm_version: str = "prague",
    base_path: str | Path | None = None,
    include_paths: tuple[str | Path, ...] = (),
    use_cache: bool = True,
) -> Compilation:
    """Compile `source` (named `filename`); imports resolve under `base_path` (default: cwd), then
    `include_paths`, then the `node_modules` directories above the source, with the remappings of
    the nearest `remappings.txt` above it (see solidity_patch.sources).

    `solc`: None for solc-js, a path to a native solc binary, or a Backend. Raises CompileError with
    solc's diagnostics if the source does not compile.
    """
    backend = get_backend(solc)
    base = Path(base_path) if base_path is not None else Path.cwd()
    source_dir = (base / filename).parent.resolve()
    remappings = read_remappings(source_dir, base)
    search = (*(Path(p) for p in include_paths), *node_modules_dirs(source_dir))
    sources = with_builtins(collect_sources(filename, source, base, search, remappings))
    settings: dict[str, Any] = {
        "evmVersion": evm_version, "optimizer": {"enabled": optimize, "runs": runs}, "viaIR": True
    }
    if remappings:
        settings["remappings"] = [str(r) for r in remappings]
    key = cache.cache_key(
        {
            "pipeline": PIPELINE_VERSION,
            "compiler": backend.cache_key,
            "settings": settings,
            "sources": sources,
        }
    )
    if use_cache and (hit := cache.load(key)) is not None:
        return Compilation(hit["artifacts"], hit["warnings"], cache_hit=True)
    artifacts, warnings = _compile(backend, sources, settings)
    if use_cache:
        cache.store(key, {"artifacts": artifacts, "warnings": warnings})
    return Compilation(artifacts, warnings, cache_hit=False)


def compile_file(path: str | Path, **options: Any) -> Compilation:
    """Compile a .sol file. Its unit name is its path relative to `base_path` (default: the cwd if
    the file is under it, else the file's directory), as solc's command line names it."""
    file = Path(path).resolve()
    source = read_text(file)
    base = Path(options.pop("base_path", None) or _default_base(file)).resolve()
    try:
        name = file.relative_to(base).as_posix()
    except ValueError:
        raise CompilerError(f"{path} is not under the base path {base}") from None
    return compile_source(source, name, base_path=base, **options)


def _default_base(file: Path) -> Path:
    cwd = Path.cwd().resolve()
    return cwd if file.is_relative_to(cwd) else file.parent


def _compile(
    backend: Backend, sources: dict[str, str], settings: dict
) -> tuple[dict[str, Artifact], list[str]]:
    output = backend.compile(
        {
            "language": "Solidity",
            "sources": {name: {"content": text} for name, text in sources.items()},
            "settings": {
                **settings,
                "outputSelection": {"*": {"*": ["abi", "ir", "metadata"]}, BUILTINS_UNIT: {"": ["ast"]}},
            },
        }
    )
    warnings = _check(output)
    builtin_ids = _builtin_ids(output)
    yul_settings = {k: v for k, v in settings.items() if k not in ("viaIR", "remappings")}
    artifacts: dict[str, Artifact] = {}
    names = [(unit, name) for unit, contracts in output.get("contracts", {}).items() for name in contracts]
    for unit, name in names:
        contract = output["contracts"][unit][name]
        code = _yul_to_bytecode(backend, f"{unit}:{name}", contract["ir"], builtin_ids, yul_settings)
        key = name if sum(n == name for _, n in names) == 1 else f"{unit}:{name}"
        artifacts[key] = _artifact(unit, name, contract, code, settings)
    return artifacts, warnings


def _check(output: dict) -> list[str]:
    """Raise CompileError on errors; return the formatted warnings about user sources."""
    diagnostics = [
        d for d in output.get("errors", []) if d.get("sourceLocation", {}).get("file") != BUILTINS_UNIT
    ]
    errors = [d for d in output.get("errors", []) if d["severity"] == "error"]
    if errors:
        raise CompileError(errors)
    return [d["formattedMessage"] for d in diagnostics if d["severity"] != "error"]


def _builtin_ids(output: dict) -> dict[str, int]:
    ast = output.get("sources", {}).get(BUILTINS_UNIT, {}).get("ast")
    if ast is None:
        return {}
    return {n["name"]: n["id"] for n in ast["nodes"] if n.get("nodeType") == "FunctionDefinition"}


def _yul_to_bytecode(
    backend: Backend, label: str, ir: str, builtin_ids: dict[str, int], settings: dict
) -> dict:
    """{"bytecode": evm.bytecode, "deployedBytecode": evm.deployedBytecode} of one contract's IR."""
    if not ir:  # interfaces and abstract contracts have no code
        empty = {"object": "", "linkReferences": {}}
        return {"bytecode": empty, "deployedBytecode": empty}
    patched, _ = patch_ir(ir, builtin_ids)
    output = backend.compile(
        {
            "language": "Yul",
            "sources": {label: {"content": patched}},
            "settings": {**settings, "outputSelection": {"*": {"*": _YUL_OUTPUTS}}},
        }
    )
    errors = [d for d in output.get("errors", []) if d["severity"] == "error"]
    if errors:
        raise CompileError(errors, f"the Yul code generated for {label} does not compile")
    (compiled,) = output["contracts"][label].values()
    return compiled["evm"]


def _artifact(unit: str, name: str, contract: dict, evm: dict, settings: dict) -> Artifact:
    """A Hardhat-format artifact (`hh-sol-artifact-1`) plus metadata and compiler information."""
    metadata = contract["metadata"]
    deployed = evm["deployedBytecode"]
    return {
        "_format": "hh-sol-artifact-1",
        "contractName": name,
        "sourceName": unit,
        "abi": contract["abi"],
        "bytecode": "0x" + evm["bytecode"]["object"],
        "deployedBytecode": "0x" + deployed["object"],
        "linkReferences": evm["bytecode"]["linkReferences"],
        "deployedLinkReferences": deployed["linkReferences"],
        "immutableReferences": deployed.get("immutableReferences", {}),
        "metadata": metadata,
        "compiler": {
            "name": "solc",
            "version": json.loads(metadata)["compiler"]["version"],
            "settings": settings,
        },
    }


def link_bytecode(bytecode: str, link_references: dict, libraries: dict[str, str]) -> str:
    """`bytecode` with library placeholders replaced: `libraries` maps "unit:Library" (or "Library"
    when unambiguous) to a 0x address. Raises CompilerError for a library without an address."""
    code = bytecode.removeprefix("0x")
    for unit, libs in link_references.items():
        for lib, refs in libs.items():
            address = libraries.get(f"{unit}:{lib}", libraries.get(lib))
            if address is None:
                raise CompilerError(f"no address given for library {unit}:{lib}")
            hex_address = address.removeprefix("0x").lower()
            if len(hex_address) != 40 or any(c not in "0123456789abcdef" for c in hex_address):
                raise CompilerError(f"library address for {unit}:{lib} is not 20 bytes of hex: {address}")
            for ref in refs:
                start = 2 * ref["start"]
                code = code[:start] + hex_address + code[start + 40 :]
    return "0x" + code
