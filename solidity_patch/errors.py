"""User-facing errors of the Solidity compiler pipeline."""

from __future__ import annotations

from evm_ext.errors import AievmError


class CompilerError(AievmError):
    """The compiler itself could not run: solc-js or a native solc is missing or broken."""


class CompileError(AievmError):
    """The source does not compile; the message is solc's formatted diagnostics, user locations only."""

    def __init__(self, diagnostics: list[dict], context: str = "compilation failed"):
        self.diagnostics = diagnostics
        text = "\n".join(d.get("formattedMessage") or d.get("message", "") for d in diagnostics)
        super().__init__(f"{context}:\n{text.rstrip()}")
