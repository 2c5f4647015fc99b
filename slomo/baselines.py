"""Classical frame interpolation, taught before Super SloMo. Same call shape as the model:

    method.interpolate(I0, I1, t) -> (B,T,3,H,W) float RGB in [0,1]
"""
import subprocess

import numpy as np
import torch

from .errors import InputError
from .ffmpeg_binary import ffmpeg_exe
from .flow import dis_flow
from .model import as_times, check_pair
from .synthesis import synthesize


class Duplicate:
    """Frame duplication: the nearer input frame (sample and hold)."""
    name = "duplicate"

    def interpolate(self, I0, I1, t, **_):
        check_pair(I0, I1, values=True)
        t = as_times(t, I0.shape[0], I0.device)  # (B,T)
        pick = (t >= 0.5).float().view(*t.shape, 1, 1, 1)
        return (1 - pick) * I0.unsqueeze(1) + pick * I1.unsqueeze(1)


class Blend:
    """Linear blending (cross-fade): (1-t) I0 + t I1."""
    name = "blend"

    def interpolate(self, I0, I1, t, **_):
        check_pair(I0, I1, values=True)
        t = as_times(t, I0.shape[0], I0.device).view(I0.shape[0], -1, 1, 1, 1)
        return ((1 - t) * I0.unsqueeze(1) + t * I1.unsqueeze(1)).float()


class FlowInterp:
    """Optical-flow interpolation: DIS flow, Super SloMo's linear flow approximation,
    both sides warped and blended with equal visibility (synthesize without refinement).
    flip_ensemble also interpolates the mirrored pair and averages (as `ModelConfig.flip_ensemble`)."""
    name = "flow"

    def __init__(self, preset: str = "medium", padding: str = "border", flip_ensemble: bool = False):
        self.preset, self.padding, self.flip_ensemble = preset, padding, flip_ensemble

    def interpolate(self, I0, I1, t, return_aux=False, **_):
        check_pair(I0, I1, values=True)
        B = I0.shape[0]
        t = as_times(t, B, I0.device)
        frames, aux = self._interpolate(I0, I1, t)
        if self.flip_ensemble:
            mirrored, _ = self._interpolate(I0.flip(-1), I1.flip(-1), t)
            frames = (frames + mirrored.flip(-1)) / 2
        frames = frames.clamp(0, 1)
        return (frames, aux) if return_aux else frames

    def _interpolate(self, I0, I1, t):  # t: (B,T)
        B, T = t.shape
        F01, F10 = dis_flow(I0, I1, self.preset)
        idx = torch.arange(B, device=I0.device).repeat_interleave(T)
        out = synthesize(I0[idx], I1[idx], F01[idx], F10[idx], t.reshape(-1), padding_mode=self.padding)
        frames = out["It"].reshape(B, T, *I0.shape[1:])
        aux = {k: v.reshape(B, T, *v.shape[1:]) for k, v in out.items() if k != "It"}
        aux.update(F01=F01, F10=F10)
        return frames, aux


class MEMC:
    """Motion-compensated interpolation with ffmpeg's `minterpolate` filter
    (block motion estimation, bidirectional overlapped-block compensation).

    minterpolate makes frames on a time grid, so each t is rounded to the nearest k/n for
    n = `grid` (default 8; exact for the usual 2x/4x/8x).
    """
    name = "memc"

    def __init__(self, grid: int = 8):
        self.grid = grid

    def _pair(self, a, b, ks):  # a, b: (3,H,W) float in [0,1]
        H, W = a.shape[-2:]
        he, we = H + H % 2, W + W % 2  # minterpolate wants even sizes
        frames = []
        for x in (a, a, b, b):  # a little context on each side
            u8 = (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
            frames.append(np.pad(u8, ((0, he - H), (0, we - W), (0, 0)), mode="edge"))
        cmd = [ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{we}x{he}",
               "-r", "1", "-i", "-", "-vf",
               f"minterpolate=fps={self.grid}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1:scd=none",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        res = subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), capture_output=True, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"ffmpeg minterpolate failed: {res.stderr.decode(errors='replace').strip()[:200]}")
        out = np.frombuffer(res.stdout, np.uint8).reshape(-1, he, we, 3)
        # input frame 1 (= a) sits at output index grid, frame 2 (= b) at 2*grid
        sel = [out[self.grid + k, :H, :W] for k in ks]
        return torch.from_numpy(np.stack(sel)).permute(0, 3, 1, 2).float() / 255

    def interpolate(self, I0, I1, t, **_):
        check_pair(I0, I1, values=True)
        t = as_times(t, I0.shape[0], I0.device)
        out = []
        for b in range(I0.shape[0]):
            ks = [int(round(float(x) * self.grid)) for x in t[b]]
            ks = [min(max(k, 1), self.grid - 1) for k in ks]
            out.append(self._pair(I0[b], I1[b], ks))
        return torch.stack(out).to(I0.device)


BASELINES = {"flow": FlowInterp, "memc": MEMC, "blend": Blend, "duplicate": Duplicate}  # name -> class


def get_method(name: str, **kw):
    """A baseline by name (see BASELINES), made with the keyword arguments `kw`."""
    if name not in BASELINES:
        raise InputError(f"unknown method {name!r}; choose one of {', '.join(BASELINES)}")
    return BASELINES[name](**kw)
