"""The aievm forks: Cancun and Prague plus INFER (0xC0) and MODELINFO (0xC1), layered the py-evm way.

Each fork subclasses its base fork's Computation (adding the opcodes and the INFER precompile at
0x0AC0, evm_ext/vm/precompile.py), State (using that computation) and VM (using that state); nothing
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


class CancunInferComputation(CancunComputation):
    opcodes = {**CancunComputation.opcodes, **INFER_OPCODES}
    _precompiles = {**CancunComputation.get_precompiles(), INFER_PRECOMPILE_ADDRESS: infer_precompile}


class CancunInferState(CancunState):
    computation_class = CancunInferComputation


class CancunInferVM(CancunVM):
    _state_class = CancunInferState


class PragueInferComputation(PragueComputation):
    opcodes = {**PragueComputation.opcodes, **INFER_OPCODES}
    _precompiles = {**PragueComputation.get_precompiles(), INFER_PRECOMPILE_ADDRESS: infer_precompile}


class PragueInferState(PragueState):
    computation_class = PragueInferComputation


class PragueInferVM(PragueVM):
    _state_class = PragueInferState


INFER_VMS = {"cancun": CancunInferVM, "prague": PragueInferVM}
