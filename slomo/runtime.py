"""Device and precision choices, made once and the same way everywhere."""
import contextlib
import ctypes
import functools

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
KEEP_FREED_PIXELS = 1280 * 736  # frames up to 720p ask malloc to keep freed blocks (`keep_freed_memory`)


def resolve_device(device=None) -> torch.device:
    """`None` or "auto": CUDA when present, else CPU."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError as e:
        raise ValueError(f"unknown device {device!r}") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but no CUDA GPU is available")
    return device


def cpu_has_bf16() -> bool:
    """True when this CPU runs bf16 convolutions natively (AVX-512 BF16 or AMX)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision, device: torch.device) -> str:
    """auto -> bf16 on a bf16 CPU, fp32 on other CPUs, bf16 or fp16 on CUDA."""
    precision = precision or "auto"
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_bf16() else "fp32"


def autocast(device: torch.device, precision: str):
    """The autocast context for a resolved precision (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def memory_format(device: torch.device, precision: str):
    """channels_last where it pays (reduced precision), contiguous otherwise."""
    return torch.channels_last if precision != "fp32" else torch.contiguous_format


def prefers_single_items(device: torch.device, precision: str) -> bool:
    """True where inference runs fastest one (pair, t) item per network pass: fp32 on a CPU with
    NNPACK (its batch-1 path); measured slower per item at batch 3-4 with every CPU kernel tried."""
    from .networks import nnpack_available
    return device.type == "cpu" and precision == "fp32" and nnpack_available()


@functools.lru_cache(maxsize=None)
def keep_freed_memory() -> bool:
    """Ask glibc's malloc to reuse freed blocks instead of returning them to the system.

    CPU inference allocates and frees the same large activations for every frame; by default each
    one is a fresh mmap whose pages the kernel zeroes again (measured here: ~10% of a
    640x352 conversion's CPU time went to system time). The peak memory is unchanged; memory is
    simply kept for reuse. Runs once per process; returns False where it does not apply (not glibc).
    `SuperSloMo.interpolate` asks for it on frames up to KEEP_FREED_PIXELS only: on larger frames the
    kept blocks would add to the peak (measured at 1080p: ~280 MiB).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        # blocks up to 64 MB (every activation of a 640x352 frame) are reused; larger ones (1080p,
        # 4K) still come from and go back to the system, so big frames do not fragment the heap
        return bool(libc.mallopt(M_MMAP_THRESHOLD, 64 << 20) and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError):
        return False
