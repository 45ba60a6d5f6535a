"""The aievm forks: Cancun and Prague plus INFER (0xC0) and MODELINFO (0xC1), layered the py-evm way.

Each fork subclasses its base fork's Computation (adding the opcodes and the INFER precompile at
0x0AC0, `evm_ext.vm.precompile`), State (using that computation and keeping the transaction's decoded
models, `evm_ext.vm.warm_models`) and VM (using that state); nothing
else differs from the base fork.
"""

from __future__ import annotations

from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.computation import CancunComputation
from eth.vm.forks.cancun.state import CancunState
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.state import PragueState

from evm_ext.vm.instructions import INFER_OPCODES
from evm_ext.vm.precompile import INFER_PRECOMPILE_ADDRESS, infer_precompile
from evm_ext.vm.warm_models import WarmModels


class InferStateMixin:
    """Journals `warm_models` with the state's own snapshots (per frame) and transactions."""

    @property
    def warm_models(self) -> WarmModels:
        """Created on first use (a state may be built without __init__, as the node's states are)."""
        warm = self.__dict__.get("_warm_models")
        if warm is None:
            warm = self.__dict__["_warm_models"] = WarmModels()
        return warm

    def snapshot(self):
        snapshot = super().snapshot()
        self.warm_models.open(snapshot[1])
        return snapshot

    def revert(self, snapshot) -> None:
        super().revert(snapshot)
        self.warm_models.revert(snapshot[1])

    def commit(self, snapshot) -> None:
        super().commit(snapshot)
        self.warm_models.commit(snapshot[1])

    def lock_changes(self) -> None:
        super().lock_changes()
        self.warm_models.clear()


class CancunInferComputation(CancunComputation):
    opcodes = {**CancunComputation.opcodes, **INFER_OPCODES}
    _precompiles = {**CancunComputation.get_precompiles(), INFER_PRECOMPILE_ADDRESS: infer_precompile}


class CancunInferState(InferStateMixin, CancunState):
    computation_class = CancunInferComputation


class CancunInferVM(CancunVM):
    _state_class = CancunInferState


class PragueInferComputation(PragueComputation):
    opcodes = {**PragueComputation.opcodes, **INFER_OPCODES}
    _precompiles = {**PragueComputation.get_precompiles(), INFER_PRECOMPILE_ADDRESS: infer_precompile}


class PragueInferState(InferStateMixin, PragueState):
    computation_class = PragueInferComputation


class PragueInferVM(PragueVM):
    _state_class = PragueInferState


INFER_VMS = {"cancun": CancunInferVM, "prague": PragueInferVM}
