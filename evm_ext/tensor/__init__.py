"""Deterministic integer tensor kernels (numpy only; nothing here knows about the EVM or the model format).

Every kernel takes int8 tensors with the batch on axis 0 (layout NCHW as in ONNX) and returns int8.
Accumulation is exact: int8 x int8 products summed in float64 BLAS are exact while the fan-in stays below
2**39 (`requant.MAX_FAN_IN` = 2**15 is far tighter), in float32 while every partial sum stays within 2**24
(`linear.gemm_plan`), so results are bit-identical on every machine and thread count. Rounding is always
half toward +infinity: `requant.Requantizer` (add 2**(s-1), arithmetic shift right; `GemmRequantizer` gets
the same bits in float64 where provably exact) for rescaling, floor((2 * sum + n) / (2 * n)) for the
integer means and softmax.
"""
