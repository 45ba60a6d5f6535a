"""The Cancun GeneralStateTests cases that CancunInferVM does not reproduce, each by id with its reason.

Two lists, both regenerated with `python -m evm_ext.conformance --all --explain` (see docs/conformance.md):

- NEW_OPCODE_CASES: the case executes byte 0xC0 or 0xC1 as an opcode. In Cancun that is an invalid
  opcode (the frame halts and burns its gas); in this fork it is INFER / MODELINFO, which push 0 for an
  address holding no sealed model and continue, so the post-state differs. Plain CancunVM reproduces
  every one of them (tests/test_conformance.py checks both facts).
- PY_EVM_GAPS: py-evm 0.12.1b1's own CancunVM gets the case wrong; the extension fork inherits it.
"""

# ruff: noqa: E501

NEW_OPCODE_CASES: dict[str, str] = {}

PY_EVM_GAPS: dict[str, str] = {}

EXPECTED_DIFFERENT: dict[str, str] = {**NEW_OPCODE_CASES, **PY_EVM_GAPS}
