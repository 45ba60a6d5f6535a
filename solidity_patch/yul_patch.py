"""Rewrite the builtins' Yul functions in solc's (unoptimized) IR into the INFER/MODELINFO opcodes.

solc names the IR function of a Solidity function `fun_<name>_<astId>`; the AST id of each builtin in
`aievm/builtins.sol` therefore identifies its IR function exactly. The whole body is replaced by a
`verbatim` call, which the Yul optimizer treats as having every side effect (never removed or
reordered across other effects). Yul's call convention puts the first argument on top of the stack,
so `verbatim_5i_1o(hex"c0", model, inOffset, inSize, outOffset, outSize)` matches INFER's stack.
"""

from __future__ import annotations

import re

from solidity_patch.errors import CompilerError

INFER_OPCODE = 0xC0
MODELINFO_OPCODE = 0xC1

_ADDRESS_MASK = "0xffffffffffffffffffffffffffffffffffffffff"
_FAIL_MESSAGE = "aievm: infer() failed"

# Error(string) revert, as `require(false, "...")` encodes it.
_BODIES = {
    "infer": (
        3,
        1,
        """{{
    let success := verbatim_5i_1o(hex"{op:02x}", and({a0}, {mask}), add({a1}, 0x20), mload({a1}),
                                  add({a2}, 0x20), mload({a2}))
    if iszero(success) {{
        let p := mload(64)
        mstore(p, shl(224, 0x08c379a0))
        mstore(add(p, 4), 0x20)
        mstore(add(p, 36), {msglen})
        mstore(add(p, 68), "{msg}")
        revert(p, 100)
    }}
    {r0} := success
}}""",
    ),
    "modelinfo": (
        1,
        2,
        """{{
    let info := verbatim_1i_1o(hex"{op:02x}", and({a0}, {mask}))
    {r0} := shr(128, info)
    {r1} := and(info, 0xffffffffffffffffffffffffffffffff)
}}""",
    ),
}
_OPCODES = {"infer": INFER_OPCODE, "modelinfo": MODELINFO_OPCODE}
_HEADER = re.compile(r"function fun_(infer|modelinfo)_(\d+)\(([^)]*)\)\s*->\s*([^{]*)\{")
# Yul tokens that may contain braces: string literals and comments (solc's @src comments quote code).
_SKIP = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.DOTALL)


def patch_ir(ir: str, builtin_ids: dict[str, int]) -> tuple[str, int]:
    """Replace the bodies of the builtin functions (name -> AST id) in `ir`; return (ir, count).

    Every definition of a builtin's IR function is replaced, or CompilerError is raised: a builtin
    left with its placeholder body would silently do nothing."""
    wanted = {(name, str(node_id)) for name, node_id in builtin_ids.items()}
    out: list[str] = []
    pos = count = 0
    for match in _HEADER.finditer(ir):
        name, node_id, args, rets = match.groups()
        if (name, node_id) not in wanted or match.start() < pos:
            continue
        n_in, n_out, template = _BODIES[name]
        arg_names = [a.strip() for a in args.split(",") if a.strip()]
        ret_names = [r.strip() for r in rets.split(",") if r.strip()]
        if len(arg_names) != n_in or len(ret_names) != n_out:
            raise CompilerError(
                f"internal error: unexpected IR signature for builtin {name}: {match.group(0)}"
            )
        body = template.format(
            op=_OPCODES[name],
            mask=_ADDRESS_MASK,
            msg=_FAIL_MESSAGE,
            msglen=len(_FAIL_MESSAGE),
            **{f"a{i}": a for i, a in enumerate(arg_names)},
            **{f"r{i}": r for i, r in enumerate(ret_names)},
        )
        out += [ir[pos : match.end() - 1], body]
        pos = _block_end(ir, match.end() - 1)
        count += 1
    out.append(ir[pos:])
    defined = sum(len(re.findall(rf"\bfunction\s+fun_{name}_{node_id}\b", ir)) for name, node_id in wanted)
    if count != defined:
        raise CompilerError(f"internal error: {defined - count} builtin IR function(s) not recognised")
    return "".join(out), count


def _block_end(text: str, open_brace: int) -> int:
    """Index just past the `}` that closes the `{` at `open_brace` (skipping strings and comments)."""
    depth = 0
    i = open_brace
    while i < len(text):
        skip = _SKIP.match(text, i)
        if skip:
            i = skip.end()
            continue
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise CompilerError("internal error: unbalanced braces in the Yul IR")
