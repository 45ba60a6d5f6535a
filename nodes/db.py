"""An `AtomicDB`-compatible key-value store on LMDB.

Invariants:
- Outside a batch every write is its own LMDB write transaction (durable once the call returns).
- `atomic_batch()` opens ONE LMDB write transaction; everything written inside it becomes visible
  and durable together when the outermost batch exits, or not at all if it raises. Nested
  `atomic_batch()` calls (py-evm's ChainDB opens its own) join the outer transaction.
- After a process crash (kill -9) the database opens at the last committed transaction: LMDB is
  copy-on-write, so a half-written transaction is never visible, and a committed one is already in
  the operating system's page cache.
- Commits do not fsync (an fsync costs ~12 ms here, more than a block); `flush()` does, and the node
  calls it every second. After an OS crash or power loss the database is still consistent (LMDB keeps
  atomicity without MDB_WRITEMAP on order-preserving filesystems) but may lack the last second.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

import lmdb
from eth.abc import AtomicWriteBatchAPI
from eth.db.backends.base import BaseAtomicDB, BaseDB

from evm_ext.errors import AievmError

DEFAULT_MAP_SIZE = 1 << 36  # 64 GiB of address space; the file grows only as data is written


class DatabaseError(AievmError):
    """The data directory cannot be opened (missing permissions, locked, not an LMDB database)."""


def _lock_directory(path: str | os.PathLike[str]):
    """Hold an exclusive lock on `path` for as long as the returned file is open (one node per
    directory: two writers would each believe their own head). The OS drops it if the process dies."""
    owner = open(os.path.join(path, "aievm.lock"), "a+")  # kept open while the database is in use
    try:
        fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner.close()
        raise OSError(f"{path} is in use by another aievm node") from None
    return owner


class _TxnBatch(BaseDB, AtomicWriteBatchAPI):
    """A view of the database through one open LMDB write transaction."""

    def __init__(self, txn: lmdb.Transaction) -> None:
        self._txn = txn

    def __getitem__(self, key: bytes) -> bytes:
        value = self._txn.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._txn.put(key, value)

    def __delitem__(self, key: bytes) -> None:
        if not self._txn.delete(key):
            raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        return self._txn.get(key) is not None

    @contextmanager
    def atomic_batch(self) -> Iterator[_TxnBatch]:
        yield self


class LMDBDatabase(BaseAtomicDB):
    """py-evm's database interface on an LMDB environment in directory `path`."""

    def __init__(self, path: str | os.PathLike[str], *, map_size: int = DEFAULT_MAP_SIZE):
        try:
            os.makedirs(path, exist_ok=True)
            self._owner = _lock_directory(path)
            self._env = lmdb.open(str(path), map_size=map_size, sync=False, max_dbs=0, readahead=False)
        except (OSError, lmdb.Error) as exc:
            raise DatabaseError(f"cannot open the chain database in {path}: {exc}") from exc
        self._batch: _TxnBatch | None = None
        self.commits = 0  # committed write transactions, for callers that flush only after changes

    def flush(self) -> None:
        """Force committed transactions to disk (fsync)."""
        self._env.sync(True)

    def close(self) -> None:
        self.flush()
        self._env.close()
        self._owner.close()

    def __getitem__(self, key: bytes) -> bytes:
        if self._batch is not None:
            return self._batch[key]
        with self._env.begin(buffers=False) as txn:
            value = txn.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        with self.atomic_batch() as batch:
            batch[key] = value

    def __delitem__(self, key: bytes) -> None:
        with self.atomic_batch() as batch:
            del batch[key]

    def _exists(self, key: bytes) -> bool:
        if self._batch is not None:
            return self._batch._exists(key)
        with self._env.begin(buffers=False) as txn:
            return txn.get(key) is not None

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        if self._batch is not None:
            yield self._batch
            return
        txn = self._env.begin(write=True)
        self._batch = _TxnBatch(txn)
        try:
            yield self._batch
        except BaseException:
            txn.abort()
            raise
        else:
            txn.commit()
            self.commits += 1
        finally:
            self._batch = None
