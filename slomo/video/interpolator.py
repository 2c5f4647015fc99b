"""`FrameInterpolator`: a video's in-between frames, uint8 frames in and out, memory bounded by the frame size.

    interp = FrameInterpolator.for_job(PairJob("superslomo", None, "auto", scale, H, W, None))
    frames = interp.interpolate_u8(window, keep)   # (P+1,H,W,3) uint8 -> (len(keep),T,H,W,3) uint8

This is the method registry's video side: `load_method` turns a method name and the conversion's
options into a method through `slomo.methods.get_method`; `PairJob` is what a helper process needs
to build the same interpolator for itself. Inside, the method sees (B,3,H,W) float RGB in [0,1].
"""
import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from .. import runtime
from ..cpu.memory import tune_for_conversion
from ..errors import InputError
from ..methods import METHODS, get_method, method_name
from ..model import SuperSloMo
from ..padding import Padder
from ..synthesis import fuse
from ..warp import backward_warp

MODEL_PIXELS = 1920 * 1088  # above this the model runs at reduced resolution (memory: docs/convert-internals.md)
ITEM_PIXELS = 2_200_000  # pixels x (pair, t) items per interpolation-network pass (memory: docs/convert-internals.md)
TIME_CHUNK_PIXELS = 128_000_000  # (frame, pixel) pairs made at once, at most 1024 frames: a pair whose
MAX_TIMES = 1024  # in-between frames exceed that (a huge --scale) is made a chunk of times at a time


class TimeGrid:
    """The times t = k/scale of a pair's in-between frames (k in a range), made as they are asked
    for: a list of them would take the machine's memory for a huge scale."""

    def __init__(self, scale: int, ks: range = None):
        self.scale, self.ks = scale, range(1, scale) if ks is None else ks

    def __len__(self):
        return len(self.ks)

    def __getitem__(self, i):
        return TimeGrid(self.scale, self.ks[i]) if isinstance(i, slice) else self.ks[i] / self.scale

    def __iter__(self):
        return (k / self.scale for k in self.ks)

    def chunks(self, n: int):
        """The grid in consecutive pieces of at most n times."""
        return (self[s:s + n] for s in range(0, len(self), n))


@dataclass(frozen=True)
class PairJob:
    """What a helper process needs to build its own FrameInterpolator (`FrameInterpolator.for_job`)."""
    method: str
    checkpoint: object
    precision: str
    scale: int
    height: int
    width: int
    batch_size: int
    fast: bool = False


def load_method(name: str, checkpoint=None, device="auto", precision: str = "auto", fast: bool = False):
    """The method a conversion runs, by name (see METHODS): the model loaded from `checkpoint` on
    `device` (`fast`: without its mirror-image second pass), or a baseline. InputError for options
    that do not apply."""
    if name not in METHODS:
        raise InputError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    if name != "superslomo":
        if checkpoint is not None:
            raise InputError(f"--checkpoint applies to --method superslomo only, not {name}")
        return get_method(name)
    try:
        dev = runtime.resolve_device(device)
        runtime.resolve_precision(precision, dev)
    except ValueError as e:
        raise InputError(str(e)) from None
    return get_method(name, checkpoint, dev, flip_ensemble=False) if fast else get_method(name, checkpoint, dev)


def _padded_pixels(height: int, width: int) -> int:
    H, W = Padder((height, width)).padded_size
    return H * W


class FrameInterpolator:
    """In-between frames for a batch of pairs, with memory bounded by the frame size.

    Super SloMo runs at full resolution up to MODEL_PIXELS (1920x1088). Above that (4K) the
    flows and visibility maps are computed on a downscaled pair, upsampled, and the full-resolution
    frames are warped and blended with them (`backward_warp` and `fuse` from the synthesis module).
    Made for a conversion, it opts the model in to the conversion's memory settings
    (`slomo.cpu.memory.tune_for_conversion`).
    """

    def __init__(self, method, scale: int, height: int, width: int, precision: str = "auto",
                 batch_size: int = None):
        self.method, self.name, self.precision = method, method_name(method), precision
        self.is_model = isinstance(method, SuperSloMo)
        self.ts = TimeGrid(scale)
        self.T = len(self.ts)
        self.chunk = max(1, min(MAX_TIMES, TIME_CHUNK_PIXELS // (height * width)))  # times per call
        self.chunked = self.T > self.chunk  # then a window is one pair, made a chunk of times at a time
        self.size = self.model_size = (height, width)
        if self.is_model and _padded_pixels(height, width) > MODEL_PIXELS:
            f = math.sqrt(_padded_pixels(height, width) / MODEL_PIXELS)
            self.model_size = (max(32, int(height / f)), max(32, int(width / f)))
        self.max_batch = max(1, ITEM_PIXELS // _padded_pixels(*self.model_size))
        if batch_size is None:  # on a CPU one pair per pass is fastest (docs/convert-internals.md)
            batch_size = 1 if self.device.type == "cpu" else max(1, min(8, self.max_batch // self.T))
        fits = TIME_CHUNK_PIXELS // (min(self.T, self.chunk) * height * width)  # pairs whose frames fit
        self.batch_size = 1 if self.chunked else max(1, min(int(batch_size), fits))
        if self.is_model:
            tune_for_conversion(method, precision, *self.model_size)  # opt-in memory settings

    @classmethod
    def for_job(cls, job: PairJob, method=None) -> "FrameInterpolator":
        """The interpolator for a conversion; `method` is the loaded method (else loaded from `job`, on the CPU)."""
        if method is None:
            method = load_method(job.method, job.checkpoint, "cpu", job.precision, job.fast)
        return cls(method, job.scale, job.height, job.width, job.precision, job.batch_size)

    @property
    def device(self) -> torch.device:
        return getattr(self.method, "device", torch.device("cpu"))

    @property
    def reduced(self) -> bool:
        """True when flow and visibility are computed at a smaller size than the frames'."""
        return self.model_size != self.size

    def precompute_kernels(self) -> None:
        """Compute now the model's NNPACK kernel transforms for this frame size (`SuperSloMo.precompute_kernels`):
        called before helpers are forked, so that they share them instead of each computing its own."""
        if self.is_model:
            self.method.precompute_kernels(*self.model_size)

    def with_times(self, ts) -> "FrameInterpolator":
        """The same interpolator for other times t (a share of a pair's in-between frames)."""
        other = copy.copy(self)
        other.ts, other.T = ts, len(ts)
        return other

    def interpolate_u8(self, window: np.ndarray, keep: list, ts=None) -> np.ndarray:
        """window: (P+1,H,W,3) uint8 frames; keep: indices j of the pairs (j, j+1) to interpolate;
        ts: a subset of this interpolator's times (default all of them).
        returns (len(keep),T,H,W,3) uint8 in-between frames."""
        interp = self if ts is None else self.with_times(ts)
        X = torch.from_numpy(np.ascontiguousarray(window)).permute(0, 3, 1, 2).float().div_(255)  # (P+1,3,H,W)
        k = torch.tensor(keep)
        It = interp(X[k], X[k + 1])  # (B,T,3,H,W) float RGB in [0,1]
        return It.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(0, 1, 3, 4, 2).cpu().numpy()

    def __call__(self, I0, I1):
        """I0, I1: (B,3,H,W) float RGB in [0,1] -> (B,T,3,H,W) float RGB in [0,1]."""
        ts = list(self.ts)  # at most `chunk` times
        if not self.is_model:
            return self.method.interpolate(I0, I1, ts)
        if not self.reduced:
            return self.method.interpolate(I0, I1, ts, precision=self.precision, max_batch=self.max_batch)
        return self._reduced(I0, I1, ts)

    def _reduced(self, I0, I1, ts):
        model = self.method
        B, T, (H, W), (h, w) = I0.shape[0], len(ts), self.size, self.model_size
        small = [F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
                 for x in (I0, I1)]
        _, aux = model.interpolate(*small, ts, return_aux=True, precision=self.precision,
                                   max_batch=self.max_batch, ensemble=False)  # flows and Vt0 only
        device, pad = model.device, model.config.padding
        gain = torch.tensor([W / w, H / h], device=device).view(1, 2, 1, 1)  # flow pixels scale with size

        def up(x):  # (B,T,C,h,w) -> (B*T,C,H,W)
            return F.interpolate(x.flatten(0, 1).float(), size=(H, W), mode="bilinear", align_corners=False)

        mean = model.mean.to(device)
        I0n, I1n = I0.to(device) - mean, I1.to(device) - mean
        t_all = torch.tensor(ts, device=device).repeat(B)
        idx = torch.arange(B, device=device).repeat_interleave(T)
        out = []
        step = max(1, 8_000_000 // (H * W))  # (pair, t) items warped at once at full size
        for s in range(0, B * T, step):
            sl = slice(s, s + step)
            Ft0 = up(aux["Ft0_refined"].flatten(0, 1)[sl].unflatten(0, (-1, 1))) * gain
            Ft1 = up(aux["Ft1_refined"].flatten(0, 1)[sl].unflatten(0, (-1, 1))) * gain
            Vt0 = up(aux["Vt0"].flatten(0, 1)[sl].unflatten(0, (-1, 1)))
            i = idx[sl]
            g0 = backward_warp(I0n[i], Ft0, pad)
            g1 = backward_warp(I1n[i], Ft1, pad)
            out.append((fuse(g0, g1, Vt0, 1 - Vt0, t_all[sl].view(-1, 1, 1, 1)) + mean).clamp_(0, 1))
        return torch.cat(out).reshape(B, T, 3, H, W)
