"""The on-chain model: canonical format, strict decoder, runtime and ONNX converter (docs/model-format.md)."""

from evm_ext.model.errors import ConversionError, ModelFormatError, ModelInputError
from evm_ext.model.format import DEFAULT_LIMITS, Limits
from evm_ext.model.ops import OpCost
from evm_ext.model.runtime import Model, decode_model, load_model

__all__ = [
    "DEFAULT_LIMITS",
    "ConversionError",
    "Limits",
    "Model",
    "ModelFormatError",
    "ModelInputError",
    "OpCost",
    "decode_model",
    "load_model",
]
