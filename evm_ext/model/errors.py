"""User-facing errors of the model subsystem."""

from evm_ext.errors import AievmError


class ModelFormatError(AievmError):
    """The bytes are not a valid, canonical model within the decoder's limits (message gives the offset)."""


class ModelInputError(AievmError):
    """An inference input does not fit the model (wrong size, shape or dtype)."""


class ConversionError(AievmError):
    """An ONNX graph cannot be converted (unsupported op, shape or quantization range)."""
