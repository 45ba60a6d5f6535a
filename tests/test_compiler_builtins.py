"""infer()/modelinfo() as Solidity builtins: the opcodes are emitted, at instruction boundaries, and run."""

from __future__ import annotations

import pytest
from eth.exceptions import InvalidInstruction, Revert
from eth_abi import decode

from evm_ext.contracts import sealed_accounts
from evm_ext.vm.forks import PragueInferVM
from solidity_patch import compile_file, compile_source
from solidity_patch.disasm import code_bytes, data_occurrences, opcode_offsets
from solidity_patch.yul_patch import INFER_OPCODE, MODELINFO_OPCODE
from tests.compiler_support import Chain, tiny_model

# The example, verbatim: no import, no inline assembly, `pure`.
AI_CONTRACT = """\
contract AIContract {
    function modelInfer(address model_address, bytes memory input_data, uint output_size) public pure returns (bytes memory) {
        bytes memory output = new bytes(output_size);
        infer(model_address, input_data, output);
        return output;
    }
}
"""  # noqa: E501

CALLERS = """\
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

function freeInfer(address m, bytes memory x, bytes memory y) pure returns (bool) { return infer(m, x, y); }

contract Callers {
    uint256 public calls;
    bytes public last;
    function viaView(address m, bytes memory x, uint256 n) external view returns (bytes memory y) {
        y = new bytes(n);
        freeInfer(m, x, y);
    }
    function viaTx(address m, bytes memory x) external returns (bytes memory y) {
        (, uint256 n) = modelinfo(m);
        y = new bytes(n);
        infer(m, x, y);
        calls += 1;
        last = y;
    }
    function sizes(address m) external pure returns (uint256 inputSize, uint256 outputSize) {
        return modelinfo(m);
    }
    function magic() external pure returns (uint256) { return 0xc0c0c1c1c0; }
}
"""

MODEL_ADDRESS = b"\x42" * 20
NOT_A_MODEL = b"\x43" * 20


@pytest.fixture(scope="module")
def compiled():
    return compile_source(AI_CONTRACT, use_cache=False), compile_source(CALLERS, use_cache=False)


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def _store(model) -> dict[bytes, dict]:
    """A sealed ModelStore at MODEL_ADDRESS holding `model`, with its chunks."""
    return sealed_accounts(model.encode(), MODEL_ADDRESS, b"\x01" * 20, model.input_size, model.output_size)


@pytest.fixture
def infer_chain(model):
    return Chain(PragueInferVM, _store(model))


def test_example_compiles_with_infer_at_instruction_boundaries(compiled):
    ai, _ = compiled
    assert list(ai) == ["AIContract"]
    runtime = code_bytes(ai["AIContract"]["deployedBytecode"])
    assert len(opcode_offsets(runtime, INFER_OPCODE)) == 1
    assert data_occurrences(runtime, INFER_OPCODE) == []
    assert opcode_offsets(runtime, MODELINFO_OPCODE) == []
    assert ai["AIContract"]["abi"] == [
        {
            "inputs": [
                {"internalType": "address", "name": "model_address", "type": "address"},
                {"internalType": "bytes", "name": "input_data", "type": "bytes"},
                {"internalType": "uint256", "name": "output_size", "type": "uint256"},
            ],
            "name": "modelInfer",
            "outputs": [{"internalType": "bytes", "name": "", "type": "bytes"}],
            "stateMutability": "pure",
            "type": "function",
        }
    ]


def test_pushed_constants_holding_opcode_bytes_are_not_opcodes(compiled):
    _, callers = compiled
    runtime = code_bytes(callers["Callers"]["deployedBytecode"])
    # infer in freeInfer and viaTx (the optimizer may inline or share), modelinfo in viaTx and sizes.
    assert opcode_offsets(runtime, INFER_OPCODE)
    assert opcode_offsets(runtime, MODELINFO_OPCODE)
    assert data_occurrences(runtime, INFER_OPCODE), "0xc0c0c1c1c0 is PUSH data"
    assert data_occurrences(runtime, MODELINFO_OPCODE)


def test_plain_prague_executes_up_to_the_infer_opcode(compiled):
    ai, _ = compiled
    chain = Chain()
    address = chain.deploy(ai["AIContract"])
    offset = opcode_offsets(code_bytes(ai["AIContract"]["deployedBytecode"]), INFER_OPCODE)[0]
    with pytest.raises(InvalidInstruction, match=f"0xc0 @ {offset}"):
        chain.call(address, ai["AIContract"]["abi"], "modelInfer", MODEL_ADDRESS, b"\x01" * 16, 10)


def test_model_infer_on_the_fork_equals_the_engine(compiled, model, infer_chain):
    ai, _ = compiled
    address = infer_chain.deploy(ai["AIContract"])
    for x in (bytes(range(16)), bytes(range(256 - 16, 256)), b"\x00" * 16):
        (out,) = infer_chain.call(address, ai["AIContract"]["abi"], "modelInfer", MODEL_ADDRESS, x, 10)
        assert out == model.run_bytes(x)
    # A larger output buffer keeps its tail (INFER writes outputSize bytes).
    (out,) = infer_chain.call(address, ai["AIContract"]["abi"], "modelInfer", MODEL_ADDRESS, bytes(16), 12)
    assert out == model.run_bytes(bytes(16)) + b"\x00\x00"


def test_failed_infer_reverts_with_a_reason(compiled, infer_chain):
    ai, _ = compiled
    address = infer_chain.deploy(ai["AIContract"])
    abi = ai["AIContract"]["abi"]
    for model_address, x in ((NOT_A_MODEL, bytes(16)), (MODEL_ADDRESS, bytes(15))):
        with pytest.raises(Revert) as info:
            infer_chain.call(address, abi, "modelInfer", model_address, x, 10)
        reason = info.value.args[0]
        assert reason[:4] == bytes.fromhex("08c379a0")
        assert decode(["string"], reason[4:]) == ("aievm: infer() failed",)


def test_builtins_from_view_and_state_changing_functions(compiled, model, infer_chain):
    _, callers = compiled
    abi = callers["Callers"]["abi"]
    address = infer_chain.deploy(callers["Callers"])
    x = bytes(range(3, 19))
    assert infer_chain.call(address, abi, "sizes", MODEL_ADDRESS) == (16, 10)
    assert infer_chain.call(address, abi, "sizes", NOT_A_MODEL) == (0, 0)
    assert infer_chain.call(address, abi, "viaView", MODEL_ADDRESS, x, 10) == (model.run_bytes(x),)
    assert infer_chain.call(address, abi, "viaTx", MODEL_ADDRESS, x, transact=True) == (model.run_bytes(x),)
    assert infer_chain.call(address, abi, "calls") == (1,)
    assert infer_chain.call(address, abi, "last") == (model.run_bytes(x),)
    assert infer_chain.call(address, abi, "magic") == (0xC0C0C1C1C0,)


def test_builtins_in_imported_files_and_next_to_members_named_infer(tmp_path):
    header = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.30;\n"
    (tmp_path / "B.sol").write_text(
        header + "function runB(address m, bytes memory x, bytes memory y) pure {\n    infer(m, x, y);\n}\n"
    )
    (tmp_path / "A.sol").write_text(
        header + 'import "./B.sol";\n'
        "interface IModel { function infer(bytes calldata x) external returns (bytes memory); }\n"
        "contract A {\n"
        "    function f(IModel m, address a, bytes memory x) external returns (bytes memory y) {\n"
        "        y = new bytes(10);\n        infer(a, x, y);\n"
        "        runB(a, x, y);\n        m.infer(x);\n    }\n}\n"
    )
    artifacts = compile_file(tmp_path / "A.sol", use_cache=False)
    runtime = code_bytes(artifacts["A"]["deployedBytecode"])
    assert opcode_offsets(runtime, INFER_OPCODE)
    # The interface member shadows the builtin inside IModel only, as solc says.
    (warning,) = artifacts.warnings
    assert warning.startswith("Warning: This declaration shadows an existing declaration.\n --> A.sol:4:20:")


NESTED = """\
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

library ExternalAI {
    function run(address m, bytes memory x, uint256 n) external pure returns (bytes memory y) {
        y = new bytes(n);
        infer(m, x, y);
    }
}

contract Child {
    address public immutable model;
    constructor(address m) { model = m; }
    function predict(bytes memory x) external view returns (bytes memory) {
        (, uint256 n) = modelinfo(model);
        return ExternalAI.run(model, x, n);
    }
    function direct(bytes memory x) external view returns (bytes memory y) {
        y = new bytes(10);
        infer(model, x, y);
    }
}

contract Spawner {
    function spawn(address m) external returns (Child) { return new Child(m); }
}
"""


def test_infer_in_created_contracts_and_linked_libraries(model, infer_chain):
    artifacts = compile_source(NESTED, use_cache=False)
    spawner_code = code_bytes(artifacts["Spawner"]["bytecode"])
    child_code = code_bytes(artifacts["Child"]["bytecode"])
    assert child_code in spawner_code  # the child's creation code is data of the spawner
    library = infer_chain.deploy(artifacts["ExternalAI"])
    spawner = infer_chain.deploy(
        artifacts["Spawner"], libraries={"Contract.sol:ExternalAI": "0x" + library.hex()}
    )
    (child,) = infer_chain.call(spawner, artifacts["Spawner"]["abi"], "spawn", MODEL_ADDRESS, transact=True)
    child = bytes.fromhex(child[2:])
    x = bytes(range(100, 116))
    assert infer_chain.call(child, artifacts["Child"]["abi"], "direct", x) == (model.run_bytes(x),)
    assert infer_chain.call(child, artifacts["Child"]["abi"], "predict", x) == (model.run_bytes(x),)


def test_cancun_target_runs_on_the_cancun_fork(model):
    from evm_ext.vm.forks import CancunInferVM

    artifact = compile_source(AI_CONTRACT, evm_version="cancun", use_cache=False)["AIContract"]
    assert artifact["compiler"]["settings"]["evmVersion"] == "cancun"
    chain = Chain(CancunInferVM, _store(model))
    address = chain.deploy(artifact)
    x = bytes(range(50, 66))
    assert chain.call(address, artifact["abi"], "modelInfer", MODEL_ADDRESS, x, 10) == (model.run_bytes(x),)
