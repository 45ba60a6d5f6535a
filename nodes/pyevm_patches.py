"""Every use the node makes of py-evm's private internals, one function or class per patch.

py-evm (pinned in constraints.txt) has no public API for what these do; each docstring says why the
patch exists and what private names it relies on. `PRIVATE_NAMES` lists those names per patch, and
tests/test_node_pyevm_patches.py checks that the pinned py-evm still has every one of them, naming
the patch that breaks, so that upgrading py-evm fails loudly instead of silently changing behaviour.
Nothing here changes a consensus result: tests/test_node_determinism.py pins block hashes, state roots
and receipts computed before these patches.
"""

from __future__ import annotations

from typing import Any

from eth.abc import BlockAPI, ComputationAPI, SignedTransactionAPI, StateAPI
from eth.vm.forks.prague.constants import DEPOSIT_CONTRACT_ADDRESS, DEPOSIT_REQUEST_TYPE
from eth_bloom import BloomFilter
from eth_keys import keys
from eth_keys.exceptions import BadSignature
from eth_utils import ValidationError

_VALIDATED = "_aievm_validated"  # set in a transaction's __dict__ by mark_validated
_IMPERSONATED = "_aievm_impersonated"  # set by impersonate

# patch -> (object whose class must have the name, private attribute names). Checked by the test.
PRIVATE_NAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "NodeAccountDB": (
        "eth.db.account.AccountDB",
        ("_account_cache", "_trie_cache", "_apply_account_diff_without_proof", "make_state_root", "persist"),
    ),
    "NodeAccountDB._trie_cache": ("eth.db.cache.CacheDB", ("_cached_values",)),
    "NodeState.on_account_db": ("eth.vm.state.BaseState", ("_db", "_account_db", "execution_context")),
    "clear_read_logs": ("eth.db.account.AccountDB", ("_raw_store_db", "_trie_logger")),
    "clear_read_logs._keys_read": ("eth.db.accesslog.KeyAccessLoggerDB", ("_keys_read",)),
    "use_account_db": ("eth.vm.base.VM", ("_state",)),
    "stack_values / memory_bytes / own_log_entries": (
        "eth.vm.computation.BaseComputation", ("_stack", "_memory", "_log_entries")
    ),
    "memory_bytes._bytes": ("eth.vm.memory.Memory", ("_bytes",)),
}


def mark_validated(tx: SignedTransactionAPI) -> None:
    """Remember on `tx` itself that DevChain.validate_transaction has validated it.

    A transaction object has no slot for that, so the flag lives in its instance `__dict__`, next to
    the cached properties; NodeTransactionExecutor reads it.
    """
    tx.__dict__[_VALIDATED] = True


def check_signature_keeping_sender(tx: SignedTransactionAPI) -> None:
    """py-evm's validate_transaction_signature, keeping the public key it recovers as the sender.

    `sender` is a functools.cached_property of the transaction (stored in its `__dict__`), which
    execution would otherwise recover again: one secp256k1 recovery per transaction instead of two.
    """
    message = tx.get_message_for_signing()
    try:
        signature = keys.Signature(vrs=(tx.y_parity, tx.r, tx.s))
        public_key = signature.recover_public_key_from_msg(message)
    except BadSignature as exc:
        raise ValidationError(f"Bad Signature: {exc}") from exc
    if not signature.verify_msg(message, public_key):
        raise ValidationError("Invalid Signature")
    tx.__dict__["sender"] = public_key.to_canonical_address()


def carry_sender(applied: SignedTransactionAPI, mined: SignedTransactionAPI) -> None:
    """Give `mined` (py-evm's copy of `applied` in the block) the sender recovered during execution:
    `sender` is a cached property of the transaction's fields, and the copy has the same fields."""
    sender = applied.__dict__.get("sender")
    if sender is not None:
        mined.__dict__.setdefault("sender", sender)


def impersonate(tx: SignedTransactionAPI, sender: bytes) -> None:
    """Make `sender` the sender of `tx`, whose signature is a stand-in's (anvil_impersonateAccount).

    Execution reads the cached `sender` property, so setting it in the instance `__dict__` is all the
    VM sees; the `_aievm_impersonated` flag lets the chain persist the sender for blocks it reloads.
    """
    tx.__dict__["sender"] = sender
    tx.__dict__[_IMPERSONATED] = True


def impersonated_sender(tx: SignedTransactionAPI) -> bytes | None:
    """The sender `impersonate` gave `tx`, or None."""
    return tx.__dict__["sender"] if tx.__dict__.get(_IMPERSONATED) else None


def clear_read_logs(account_db: Any) -> None:
    """Empty py-evm's logs of the database keys an AccountDB has read (kept for block witnesses, which
    the devnet does not produce). They only grow, and `get_code` copies them on every call."""
    account_db._raw_store_db._keys_read.clear()
    account_db._trie_logger._keys_read.clear()


def account_db_of(state: StateAPI) -> Any:
    """The AccountDB behind `state` (py-evm keeps it in `state._account_db`)."""
    return state._account_db


def use_account_db(vm: Any, db: Any, header: Any, account_db: Any) -> None:
    """Make `vm` build on `account_db` (an AccountDB already at `header`'s state root) instead of a
    cold one: py-evm builds its state lazily into `vm._state`, so setting it first is the only way."""
    context = vm.create_execution_context(header, vm.previous_hashes, vm.chain_context)
    vm._state = vm.get_state_class().on_account_db(db, context, account_db)


def stack_values(computation: ComputationAPI) -> list[int | bytes]:
    """The operand stack of `computation`, bottom first (py-evm exposes no read-only view)."""
    return computation._stack.values


def memory_bytes(computation: ComputationAPI) -> bytes:
    """The whole memory of `computation` (py-evm exposes reads of ranges only, through extend)."""
    return bytes(computation._memory._bytes)


def own_log_entries(computation: ComputationAPI) -> list[tuple[int, bytes, tuple[int, ...], bytes]]:
    """The logs `computation` itself emitted, as (counter, address, topics, data): py-evm's public
    get_raw_log_entries merges the children's in and returns nothing for a failed frame."""
    return computation._log_entries


def node_vm(vm_class: type) -> type:
    """`vm_class` with the same consensus results and less repeated work per block:

    - its transaction executor does not re-run `transaction.validate()` (field ranges, intrinsic gas
      and, for legacy transactions, a second signature recovery) on a transaction that
      DevChain.validate_transaction has already validated; the state checks (nonce, balance, fees)
      still run. That validation depends on the transaction's fields only, so it cannot have changed;
    - its AccountDB keeps its account caches from one block to the next (NodeAccountDB);
    - its state can be built on an existing AccountDB (NodeState.on_account_db);
    - from Prague, EIP-6110 deposit requests are not scanned for when the bloom rules them out.
    """
    state_class = vm_class.get_state_class()

    class NodeTransactionExecutor(state_class.transaction_executor_class):
        def validate_transaction(self, transaction: SignedTransactionAPI) -> None:
            if transaction.__dict__.get(_VALIDATED):
                self.vm_state.validate_transaction(transaction)
            else:
                super().validate_transaction(transaction)

    class NodeAccountDB(state_class.account_db_class):
        """Keeps its account caches across make_state_root and persist instead of dropping them.

        py-evm empties its cache of encoded accounts (address -> RLP, read at the trie root) whenever
        the root moves, and its cache of decoded accounts at every persist, so every block re-walks and
        re-decodes the trie for the accounts it touches. The new root is the old one with exactly the
        diff applied, so the old encoded cache updated with that diff is the cache at the new root; the
        decoded cache, as it stands after make_state_root has written the storage roots, holds the
        committed accounts. (py-evm drops it only so that witness read-logs, which the devnet does not
        produce, see every account.) Other root changes (the `state_root` setter, a journal discard)
        still empty them.
        """

        def persist(self):
            witness = super().persist()
            for address, account in self._committed_accounts:
                self._account_cache[address] = account
            return witness

        def _apply_account_diff_without_proof(self, diff, trie) -> None:
            super()._apply_account_diff_without_proof(diff, trie)
            self._applied_diff = diff

        def make_state_root(self) -> bytes:
            cached = self._trie_cache._cached_values  # reset_cache() swaps in a new LRU, this one stays
            self._applied_diff = None
            root = super().make_state_root()
            diff = self._applied_diff
            if diff is not None:
                for key in diff.deleted_keys():
                    if key in cached:
                        del cached[key]
                for key, value in diff.pending_items():
                    cached[key] = value
            self._trie_cache._cached_values = cached
            self._committed_accounts = list(self._account_cache.items())
            return root

    class NodeState(state_class):
        @classmethod
        def on_account_db(cls, db, execution_context, account_db) -> StateAPI:
            """A state on an existing AccountDB: what __init__ sets, without building a cold AccountDB
            and re-running set_system_contracts (whose writes, if any, `account_db` already holds:
            py-evm only rewrites a system contract's code when it is already exactly that code)."""
            state = cls.__new__(cls)
            state._db = db
            state.execution_context = execution_context
            state._account_db = account_db
            return state

    node_state = NodeState.configure(
        __name__=state_class.__name__,
        transaction_executor_class=NodeTransactionExecutor,
        account_db_class=NodeAccountDB,
    )
    overrides: dict[str, object] = {"__name__": vm_class.__name__, "_state_class": node_state}
    if hasattr(vm_class, "process_deposit_request_data"):  # Prague and later (EIP-6110)

        def process_deposit_request_data(self, block: BlockAPI) -> None:
            """py-evm's, which reads the block's receipts back from the database to scan their logs,
            skipped when the header's bloom shows that no log comes from the deposit contract (a bloom
            has no false negatives); the request it then appends is the empty one py-evm would."""
            if DEPOSIT_CONTRACT_ADDRESS in BloomFilter(block.header.bloom):
                vm_class.process_deposit_request_data(self, block)
            else:
                block.block_requests.append(DEPOSIT_REQUEST_TYPE)

        overrides["process_deposit_request_data"] = process_deposit_request_data
    return vm_class.configure(**overrides)

