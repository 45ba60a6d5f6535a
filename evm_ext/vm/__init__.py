"""The INFER fork: Cancun and Prague plus INFER (0xC0) and MODELINFO (0xC1) (docs/opcodes.md).

Modules: `forks` (the VM classes, `INFER_VMS`), `instructions` (the opcodes), `gas` (the schedule,
docs/gas.md), `model_store` (reading sealed models through the state), `model_cache` (parsed models),
`bytecode` (a minimal assembler for hand-written contracts).
"""
