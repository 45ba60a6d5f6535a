"""`aievm node` options as Anvil users expect them, on a real node subprocess: --accounts, --mnemonic,
--balance, --no-mining, --block-base-fee-per-gas, --dump-state / --load-state, --no-infer."""

from __future__ import annotations

from nodes.accounts import dev_accounts
from tests.node_fixtures import node_process, rpc

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
TARGET = "0x00000000000000000000000000000000000000aa"


def test_accounts_mnemonic_balance_no_mining_base_fee_and_state_dump(tmp_path):
    dump = tmp_path / "state.gz"
    options = [
        "--accounts",
        "3",
        "--mnemonic",
        MNEMONIC,
        "--balance",
        "100",
        "--no-mining",
        "--block-base-fee-per-gas",
        "0",
        "--dump-state",
        str(dump),
    ]
    expected = [a.address for a in dev_accounts(3, MNEMONIC)]
    with node_process(None, *options) as (_, url):
        assert rpc(url, "eth_accounts")["result"] == expected
        assert rpc(url, "eth_getBalance", [expected[2], "latest"])["result"] == hex(100 * 10**18)
        assert rpc(url, "eth_getBlockByNumber", ["latest", False])["result"]["baseFeePerGas"] == "0x0"
        sent = rpc(
            url,
            "eth_sendTransaction",
            [{"from": expected[0], "to": TARGET, "value": "0x2a", "gasPrice": "0x0"}],
        )["result"]
        assert rpc(url, "eth_getTransactionReceipt", [sent])["result"] is None  # queued, not mined
        assert rpc(url, "eth_blockNumber")["result"] == "0x0"
        assert rpc(url, "anvil_getAutomine")["result"] is False
        rpc(url, "evm_mine")
        assert rpc(url, "eth_getTransactionReceipt", [sent])["result"]["status"] == "0x1"
    assert dump.stat().st_size > 0
    with node_process(None, "--load-state", str(dump)) as (_, url):
        assert rpc(url, "eth_getBalance", [TARGET, "latest"])["result"] == "0x2a"
        assert rpc(url, "eth_accounts")["result"][0] == dev_accounts()[0].address


def test_no_infer_runs_the_stock_fork(tmp_path):
    call = {"to": TARGET}
    with node_process(None, "--fork", "cancun", "--no-infer") as (_, url):
        assert rpc(url, "web3_clientVersion")["result"].endswith("/cancun-noinfer")
        rpc(url, "anvil_setCode", [TARGET, "0xc0"])  # INFER is an invalid opcode there
        error = rpc(url, "eth_call", [call, "latest"])["error"]
        assert error["code"] == 3 and "InvalidInstruction" in error["message"]


def test_bad_mnemonic_is_a_clear_error():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "evm_ext.cli", "node", "--in-memory", "--mnemonic", "not a mnemonic"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--mnemonic is not a valid BIP-39 mnemonic" in result.stderr
    assert "Traceback" not in result.stderr
