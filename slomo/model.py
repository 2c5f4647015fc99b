"""`SuperSloMo`: the flow network (or DIS flow) plus the interpolation network."""
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from . import runtime
from .checkpoint import (
    check_state_dict,
    default_checkpoint,
    read_checkpoint,
    write_checkpoint,
)
from .config import ModelConfig
from .errors import CheckpointError, InputError
from .flow import dis_flow
from .networks import UNet
from .synthesis import synthesize

MEAN = (0.429, 0.431, 0.397)  # per-channel RGB mean the reference weights expect (std 1)
RANGE_TOLERANCE = 1e-3  # how far outside [0, 1] an input pixel may stray (rounding, resampling)


def as_times(t, batch: int, device) -> torch.Tensor:
    """Normalise t (float, sequence, (T,) or (B,T) tensor) to a (B,T) float32 tensor in (0,1)."""
    t = torch.as_tensor(t, dtype=torch.float32, device=device)
    if t.dim() == 0:
        t = t.view(1)
    if t.dim() == 1:
        t = t.unsqueeze(0).expand(batch, -1)
    if t.dim() != 2 or t.shape[0] != batch or t.shape[1] == 0:
        raise InputError(f"t must be a float, a sequence of floats or a (B,T) tensor; got shape {tuple(t.shape)}")
    if not torch.all((t > 0) & (t < 1)):
        raise InputError(f"every t must lie strictly between 0 and 1; got {t.flatten()[:8].tolist()}")
    return t


def check_pair(I0, I1, values: bool = False) -> None:
    """Raise InputError unless I0 and I1 are matching (B,3,H,W) float tensors; with `values`, also
    unless every pixel is finite and within [0, 1] (give or take RANGE_TOLERANCE)."""
    for name, x in (("I0", I0), ("I1", I1)):
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InputError(f"{name} must be a (B,3,H,W) float tensor in [0,1]; got {shape}")
        if not x.is_floating_point():
            raise InputError(f"{name} must be float in [0,1]; got {x.dtype} (divide uint8 frames by 255)")
    if I0.shape != I1.shape:
        raise InputError(f"I0 and I1 must have the same shape; got {tuple(I0.shape)} and {tuple(I1.shape)}")
    for name, x in (("I0", I0), ("I1", I1)) if values and I0.numel() else ():
        x = x.detach() if x.dtype in (torch.float32, torch.float64) else x.detach().float()
        lo, hi = (float(v) for v in torch.aminmax(x))  # one pass; NaN fails both comparisons
        if not (-RANGE_TOLERANCE <= lo and hi <= 1 + RANGE_TOLERANCE):
            finite = bool(torch.isfinite(x).all())
            what = f"values from {lo:.4g} to {hi:.4g}" if finite else "NaN or infinite values"
            raise InputError(f"{name} holds {what}; frames must be float RGB in [0, 1]")


def _rows(x, i):
    """x[i] for an index tensor i; a view rather than a copy when i holds one item."""
    return x[int(i[0]):int(i[0]) + 1] if len(i) == 1 else x[i]


def pad32(x):
    """Replicate-pad (B,C,H,W) at the bottom and right to multiples of 32."""
    H, W = x.shape[-2:]
    ph, pw = -H % 32, -W % 32
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


class SuperSloMo(nn.Module):
    """Super SloMo (Jiang et al., CVPR 2018). Load with `from_checkpoint`, run with `interpolate`.

    flow:   UNet(6 -> 4) giving F01 and F10, or None when config.flow == "dis"
    interp: UNet(20 -> 5) refining Ft0, Ft1 and predicting the visibility Vt0
    """

    def __init__(self, config: ModelConfig = None, **overrides):
        super().__init__()
        if config is None:
            config = ModelConfig(**overrides)
        elif overrides:
            config = ModelConfig.from_dict({**config.to_dict(), **overrides})
        self.config = config
        self.flow = UNet(6, 4, config.width, config.leaky_head) if config.flow == "unet" else None
        self.interp = UNet(20, 5, config.width, config.leaky_head)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)

    # ---- loading and saving -------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, path=None, device=None) -> "SuperSloMo":
        """Load a reference `SuperSloMo.ckpt` or a slomo checkpoint; `None` loads the shipped one."""
        path = Path(path) if path is not None else default_checkpoint()
        config, state, metadata = read_checkpoint(path)
        with torch.device("meta"):  # no random initialisation of weights that are loaded next (0.4 s)
            model = cls(config)
        check_state_dict(model, state, path)
        model.load_state_dict({k: v.float().contiguous() for k, v in state.items()}, assign=True)
        model.mean = torch.tensor(MEAN).view(1, 3, 1, 1)  # the one buffer not in the state dict
        model.metadata = metadata
        model.checkpoint_path = str(path)
        return model.to(runtime.resolve_device(device)).eval()

    def save(self, path, **metadata) -> Path:
        """Write the project's checkpoint format (config, weights, metadata such as step and metrics)."""
        return write_checkpoint(path, self.config, self.state_dict(), **metadata)

    @property
    def device(self) -> torch.device:
        return self.interp.conv1.weight.device

    def prepare(self, height: int, width: int) -> int:
        """Compute now the NNPACK kernel transforms that fp32 CPU inference on (height, width) frames
        keeps (`UNet.prepare`); returns how many."""
        H, W = -(-height // 32) * 32, -(-width // 32) * 32
        return sum(net.prepare(H, W) for net in (self.flow, self.interp) if net is not None)

    # ---- the computation ----------------------------------------------------------------
    def flows(self, I0, I1):
        """Bidirectional flow, sized for the pair padded to multiples of 32.

        I0, I1: (B,3,H,W) float RGB in [0,1], any size
        returns F01, F10: (B,2,H32,W32) pixels (dx,dy)
        DIS sees the frames as they are (as the flow baseline does) and its flow is edge-padded;
        the flow U-Net sees the padded frames.
        """
        if self.flow is None:
            F01, F10 = dis_flow(I0, I1, self.config.dis_preset)
            return pad32(F01), pad32(F10)
        I0, I1 = pad32(I0), pad32(I1)
        out = self.flow(torch.cat((I0 - self.mean, I1 - self.mean), dim=1)).float()
        return out[:, :2], out[:, 2:]

    def forward(self, I0, I1, t, max_batch: int = None, flows=None, aux: bool = True) -> dict:
        """Frames at times t, with every intermediate result.

        I0, I1: (B,3,H,W) float RGB in [0,1], any H and W (padded to 32 inside, cropped back)
        t:      float, sequence of floats, (T,) or (B,T) tensor, each in (0,1)
        max_batch: at most this many (pair, t) items per interpolation-network pass
        flows:  optional precomputed (F01, F10) for the padded pair
        aux:    False keeps only It (saves memory in video conversion)
        returns dict: It (B,T,3,H,W) float RGB, not clamped; F01, F10 (B,2,H,W);
                Ft0, Ft1, Ft0_refined, Ft1_refined (B,T,2,H,W); Vt0, Vt1 (B,T,1,H,W);
                g0, g1, g0_refined, g1_refined (B,T,3,H,W) warped frames in RGB [0,1] space.
        """
        check_pair(I0, I1)
        B, _, H, W = I0.shape
        t = as_times(t, B, I0.device)
        T = t.shape[1]
        I0p, I1p = pad32(I0.float()), pad32(I1.float())
        F01, F10 = self.flows(I0.float(), I1.float()) if flows is None else flows
        I0n, I1n = I0p - self.mean, I1p - self.mean
        del I0p, I1p  # memory: at 1080p every 3-channel copy is 25 MB
        idx = torch.arange(B, device=I0.device).repeat_interleave(T)
        tt = t.reshape(-1)
        step = max_batch or len(idx)
        parts = []
        for s in range(0, len(idx), step):
            i = idx[s:s + step]
            part = synthesize(_rows(I0n, i), _rows(I1n, i), _rows(F01, i), _rows(F10, i), tt[s:s + step],
                              refine=self.interp, padding_mode=self.config.padding)
            parts.append(part if aux else {"It": part["It"]})
        out = {k: torch.cat([p[k] for p in parts]) if len(parts) > 1 else parts[0][k] for k in parts[0]}
        result = {"F01": F01[..., :H, :W], "F10": F10[..., :H, :W]} if aux else {}
        for k, v in out.items():
            v = v[..., :H, :W]
            if v.shape[1] == 3:
                v = v + self.mean
            result[k] = v.reshape(B, T, *v.shape[1:])
        return result

    @torch.no_grad()
    def interpolate(self, I0, I1, t, return_aux: bool = False, precision: str = None,
                    max_batch: int = None, ensemble: bool = True):
        """Intermediate frames between I0 and I1.

        I0, I1: (B,3,H,W) float RGB in [0,1], any size
        t:      float or sequence of floats strictly in (0,1); one flow pass serves them all
        precision: "auto" (bf16 on a bf16 CPU, fp16/bf16 on CUDA, else fp32), "fp32", "bf16", "fp16"
        returns (B,T,3,H,W) float RGB in [0,1]; with return_aux, (frames, dict of intermediates)
        With config.flip_ensemble the frames average two passes (the pair and its mirror image); the
        intermediates are those of the first. ensemble=False skips the mirrored pass.
        """
        check_pair(I0, I1, values=True)
        device = self.device
        prec = runtime.resolve_precision(precision, device)
        fmt = runtime.memory_format(device, prec)
        if device.type == "cpu" and I0.shape[-2] * I0.shape[-1] <= runtime.KEEP_FREED_PIXELS:
            runtime.keep_freed_memory()
        if runtime.prefers_single_items(device, prec):
            max_batch = 1  # NNPACK on CPU: one (pair, t) item per pass is fastest (bench/README.md)
        self.to(memory_format=fmt)
        I0 = I0.to(device, torch.float32).contiguous(memory_format=fmt)
        I1 = I1.to(device, torch.float32).contiguous(memory_format=fmt)
        with runtime.autocast(device, prec):
            out = self.forward(I0, I1, t, max_batch=max_batch, aux=return_aux)
            if self.config.flip_ensemble and ensemble:  # the mirrored pair: a second, independent flow estimate
                mirrored = self.forward(I0.flip(-1), I1.flip(-1), t, max_batch=max_batch, aux=False)
                out["It"] = (out["It"] + mirrored["It"].flip(-1)) / 2
        frames = out.pop("It").clamp_(0, 1)
        return (frames, out) if return_aux else frames


def load_model(checkpoint=None, device=None) -> SuperSloMo:
    """`SuperSloMo.from_checkpoint` with a friendlier message when nothing is shipped yet."""
    if checkpoint is None and not default_checkpoint().is_file():
        raise CheckpointError(f"no checkpoint given and none shipped at {default_checkpoint()}")
    return SuperSloMo.from_checkpoint(checkpoint, device)
