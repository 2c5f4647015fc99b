"""NNPACK's inference convolution, called with a chosen algorithm and kept kernel transforms.

PyTorch's `torch._nnpack_spatial_convolution` lets NNPACK pick the algorithm and transforms the
kernel again on every call. In the U-Net's deep layers (small maps, 512x512x3x3 kernels) that
transform is a large part of the work, and on full-size maps NNPACK's own pick (Winograd 8x8 for 3x3
kernels) can be slower than its 16x16 FFT. NNPACK's inference entry point, `nnp_convolution_inference`,
exported by PyTorch's CPU library, takes both choices; this module calls it through ctypes
(`algorithm` and `keep_transform` hold the choices; docs/cpu-speed.md and bench/README.md have the
measurements behind them).
Where the symbol is missing (another PyTorch build), `conv2d` falls back to PyTorch's call.

With one PyTorch thread NNPACK runs in the calling thread; with more it gets a pthreadpool of that
many threads, one per process (a forked child makes its own). PyTorch's call instead starts PyTorch's
pool, which a forked child would inherit without its threads (`torch_pool_started`).
"""
import ctypes
import functools
import os
import threading
from pathlib import Path

import torch

AUTO, FT8X8, FT16X16, WT8X8 = 0, 1, 2, 3  # enum nnp_convolution_algorithm
COMPUTE, PRECOMPUTE, REUSE = 1, 2, 3  # enum nnp_convolution_transform_strategy
MIN_PIXELS = 64  # smaller maps: PyTorch's default kernel (`slomo.cpu.conv.use_nnpack`)
FT16_MIN_PIXELS = 1 << 15  # 3x3 kernels: Winograd 8x8 below this many output pixels, FFT 16x16 from it
KEEP_MAX_PIXELS = 4096  # kernel transforms are kept for maps up to this many pixels (there they are a large
# part of the work; on larger maps they matter less and would add to 1080p's peak memory)


class _Size(ctypes.Structure):
    _fields_ = [("width", ctypes.c_size_t), ("height", ctypes.c_size_t)]


class _Padding(ctypes.Structure):
    _fields_ = [("top", ctypes.c_size_t), ("right", ctypes.c_size_t),
                ("bottom", ctypes.c_size_t), ("left", ctypes.c_size_t)]


@functools.lru_cache(maxsize=None)
def available() -> bool:
    """True when PyTorch was built with NNPACK and it initialises on this CPU (the call initialises it)."""
    try:
        return bool(torch._nnpack_available())
    except (AttributeError, RuntimeError):
        return False


@functools.lru_cache(maxsize=None)
def _library():
    """libtorch_cpu's NNPACK and pthreadpool functions, initialised; None where they are missing."""
    libs = sorted((Path(torch.__file__).parent / "lib").glob("libtorch_cpu.*"))
    try:
        lib = ctypes.CDLL(str(libs[0]))
        run = lib.nnp_convolution_inference
        create = lib.pthreadpool_create
    except (IndexError, OSError, AttributeError):
        return None
    run.restype = ctypes.c_int
    p = ctypes.c_void_p
    run.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t, _Size, _Padding, _Size, _Size,
                    p, p, p, p, p, ctypes.POINTER(ctypes.c_size_t), ctypes.c_int, p, p, p]
    create.restype, create.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    if lib.nnp_initialize() != 0:
        return None
    return run, create


def direct_available() -> bool:
    """True when NNPACK's own entry point can be called (else `conv2d` uses PyTorch's)."""
    return _library() is not None


_pools = {}  # (pid, threads) -> pthreadpool; created once per process, never destroyed
_torch_pool_pids = set()  # processes that ran PyTorch's own NNPACK call (it starts PyTorch's pool)
_local = threading.local()  # each thread's work buffer


def torch_pool_started() -> bool:
    """True once this process has run NNPACK through PyTorch's call (and so started PyTorch's pool)."""
    return os.getpid() in _torch_pool_pids


def _pool():
    n = torch.get_num_threads()
    if n <= 1:
        return None  # NNPACK then runs in the calling thread
    key = (os.getpid(), n)
    if key not in _pools:
        _pools[key] = _library()[1](n)
    return _pools[key]


def algorithm(kernel: int, pixels: int) -> int:
    """The algorithm for a k x k kernel on a map of `pixels` output pixels: Winograd 8x8 for 3x3
    kernels on maps under FT16_MIN_PIXELS, else the 16x16 FFT."""
    return WT8X8 if kernel == 3 and pixels < FT16_MIN_PIXELS else FT16X16


def _direct_for(weight, direct: bool = True) -> bool:
    """Whether NNPACK is called directly for this kernel (its FFT and Winograd algorithms: k <= 16);
    direct=False asks for PyTorch's call."""
    return direct and direct_available() and max(weight.shape[-2:]) <= 16


def _algorithm_for(weight, pixels: int) -> int:
    kh, kw = weight.shape[-2:]
    return algorithm(kh if kh == kw else 0, pixels)


def keep_transform(pixels: int) -> bool:
    """Whether the kernel transform for a map of `pixels` output pixels is kept for reuse."""
    return pixels <= KEEP_MAX_PIXELS


def _aligned(nbytes: int, old=None):
    """A (tensor, 64-byte aligned address) of at least nbytes, reusing `old` when it is big enough."""
    if old is not None and old[0].numel() - 64 >= nbytes:
        return old
    buf = torch.empty(nbytes + 64, dtype=torch.uint8)
    return buf, (buf.data_ptr() + 63) // 64 * 64


def _call(algo, strategy, x_shape, out_channels, pad, kernel, x=None, w=None, b=None, out=None, work=None):
    """One nnp_convolution_inference call (pointers as addresses); with work=None it only returns the
    size of the work buffer it needs (for PRECOMPUTE: of the kernel transform)."""
    run = _library()[0]
    _, C, H, W = x_shape
    kh, kw = kernel
    size = ctypes.c_size_t(work[1] if work else 0)
    status = run(algo, strategy, C, out_channels, _Size(W, H), _Padding(pad[0], pad[1], pad[0], pad[1]),
                 _Size(kw, kh), _Size(1, 1), x, w, b, out, work[0] if work else None, ctypes.byref(size),
                 0, None, _pool(), None)
    if status != 0:
        raise RuntimeError(f"NNPACK convolution failed (status {status})")
    return size.value


def _transform(weight, x_shape, algo, pad, cache):
    """The kept transform of `weight` for `algo` (computed on first use), or None."""
    if cache is None or not keep_transform(x_shape[2] * x_shape[3]):
        return None
    entry = cache.get(algo)
    if entry and entry[0] is weight and entry[1] == (weight.data_ptr(), weight._version):
        return entry[2]  # the entry holds the weight itself, so its address is not reused meanwhile
    O, _, kh, kw = weight.shape
    nbytes = _call(algo, PRECOMPUTE, x_shape, O, pad, (kh, kw), w=weight.data_ptr())
    buf = _aligned(nbytes)
    _call(algo, PRECOMPUTE, x_shape, O, pad, (kh, kw), w=weight.data_ptr(), work=(buf[1], nbytes))
    cache[algo] = (weight, (weight.data_ptr(), weight._version), buf)
    return buf


def keep(weight, x_shape, padding, cache, direct: bool = True) -> bool:
    """Compute now the kernel transform that `conv2d` keeps for maps of x_shape (1,C,H,W) with this
    padding (the output is H x W), if it keeps one there. True when one is kept."""
    if not _direct_for(weight, direct):
        return False
    return _transform(weight, x_shape, _algorithm_for(weight, x_shape[2] * x_shape[3]), padding, cache) is not None


def conv2d(x, weight, bias, padding, cache=None, direct: bool = True):
    """Convolution of x (1,C,H,W) fp32 CPU with weight (O,C,kh,kw) and bias (O,), zero padding
    (ph, pw) on both sides -> (1,O,H+2ph-kh+1,W+2pw-kw+1). Equal to `F.conv2d` to ~1e-5 relative.
    `cache`: a dict owned by the layer, where the kernel transform is kept between calls.
    direct=False: through PyTorch's NNPACK call (NNPACK's own choice of algorithm, nothing kept)."""
    if not _direct_for(weight, direct):
        _torch_pool_pids.add(os.getpid())
        return torch._nnpack_spatial_convolution(x, weight, bias, tuple(padding))
    bias = bias if bias is not None else x.new_zeros(weight.shape[0])
    tensors = (x, weight, bias)
    if not (x.dim() == 4 and x.shape[0] == 1 and weight.dim() == 4 and weight.shape[1] == x.shape[1]
            and bias.shape == weight.shape[:1] and 0 <= min(padding) and max(padding) < min(weight.shape[-2:])
            and all(t.dtype == torch.float32 and t.device.type == "cpu" for t in tensors)):
        # NNPACK trusts these sizes: anything else would read or write memory it was not given
        raise ValueError(f"nnpack.conv2d takes one fp32 CPU map (1,C,H,W) and a matching (O,C,k,k) kernel, "
                         f"not {tuple(x.shape)} {x.dtype} and {tuple(weight.shape)}")
    x, weight, bias = (t.contiguous() for t in tensors)
    (_, _, H, W), (O, _, kh, kw), (ph, pw) = x.shape, weight.shape, padding
    out = x.new_empty(1, O, H + 2 * ph - kh + 1, W + 2 * pw - kw + 1)
    algo = _algorithm_for(weight, out.shape[2] * out.shape[3])
    kept = _transform(weight, x.shape, algo, padding, cache)
    strategy, w = (REUSE, kept[1]) if kept else (COMPUTE, weight.data_ptr())
    args = (algo, strategy, x.shape, O, padding, (kh, kw), x.data_ptr(), w, bias.data_ptr(), out.data_ptr())
    need = _call(*args)
    _local.work = work = _aligned(need, getattr(_local, "work", None))
    _call(*args, work=(work[1], need))
    return out
