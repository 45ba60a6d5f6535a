"""`aievm compile`: Solidity with the `infer()`/`modelinfo()` builtins, compiled via Yul + verbatim.

from solidity_patch import compile_source
artifacts = compile_source(open("AI.sol").read())
artifacts["AIContract"]["bytecode"]    # 0x..., with INFER (0xC0) where infer() is called
"""

import evm_ext  # noqa: F401  (first: selects the keccak backend, see evm_ext/__init__.py)
from solidity_patch.compiler import Artifact, Compilation, compile_file, compile_source, link_bytecode
from solidity_patch.errors import CompileError, CompilerError

__all__ = [
    "Artifact",
    "Compilation",
    "CompileError",
    "CompilerError",
    "compile_file",
    "compile_source",
    "link_bytecode",
]
