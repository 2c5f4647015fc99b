"""CPU speed: the same results as PyTorch's default kernels, in less time or memory.

`nnpack` calls NNPACK's inference convolution directly; `conv` holds the U-Net's convolution layer
and its leaner decoder paths; `memory` holds the opt-in memory settings of a long conversion.
"""
