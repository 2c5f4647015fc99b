"""Memory settings for a long inference run, such as a video conversion. Nothing here happens unless
asked for: `tune_for_conversion` is the one call, made by the conversion code.

- the model's memory format for its device and precision (`runtime.memory_format`);
- on a CPU, glibc's malloc keeping freed blocks for reuse (`keep_freed_memory`, process-wide): CPU
  inference allocates and frees the same large activations for every frame, and by default each one
  is a fresh mmap whose pages the kernel zeroes again. The peak memory is unchanged up to
  KEEP_FREED_PIXELS; on larger frames the kept blocks would add to it. docs/cpu-speed.md has the
  measurements.
"""
import ctypes
import functools

import torch

from .. import runtime

KEEP_FREED_PIXELS = 1280 * 736  # frames up to 720p ask malloc to keep freed blocks


@functools.lru_cache(maxsize=None)
def keep_freed_memory() -> bool:
    """Ask glibc's malloc to reuse freed blocks instead of returning them to the system. Process-wide;
    runs once per process. Returns False where it does not apply (not glibc)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        # blocks up to 64 MB (every activation of a 640x352 frame) are reused; larger ones (1080p,
        # 4K) still come from and go back to the system, so big frames do not fragment the heap
        return bool(libc.mallopt(M_MMAP_THRESHOLD, 64 << 20) and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError):
        return False


def tune_for_conversion(model: torch.nn.Module, precision: str, height: int, width: int) -> None:
    """Opt in, for a conversion whose model sees (height, width) frames, to the settings that make it
    faster: the model's weights in the memory format of its device and precision (channels_last
    under reduced precision; `SuperSloMo.interpolate` then gives its inputs that format too) and,
    on a CPU with frames up to KEEP_FREED_PIXELS, `keep_freed_memory()` for the whole process."""
    device = next(model.parameters()).device
    model.to(memory_format=runtime.memory_format(device, runtime.resolve_precision(precision, device)))
    if device.type == "cpu" and height * width <= KEEP_FREED_PIXELS:
        keep_freed_memory()
