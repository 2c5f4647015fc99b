"""`SuperSloMo`: the flow network (or DIS flow) plus the interpolation network."""
from pathlib import Path

import torch
from torch import nn

from . import runtime
from .checkpoint import (
    check_state_dict,
    default_checkpoint,
    read_checkpoint,
    write_checkpoint,
)
from .config import ModelConfig
from .cpu.conv import precompute_kernels, prefers_single_items
from .errors import InputError
from .flow import dis_flow
from .networks import UNet
from .padding import Padder
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


class SuperSloMo(nn.Module):
    """Super SloMo (Jiang et al., CVPR 2018). Load with `slomo.load`, run with `interpolate`.

    flow:   UNet(6 -> 4) giving F01 and F10, or None when config.flow == "dis"
    interp: UNet(20 -> 5) refining Ft0, Ft1 and predicting the visibility Vt0
    config: a ModelConfig, or its fields as keywords (overrides of `config` when both are given)
    metadata, checkpoint_path: where the weights came from (the checkpoint's metadata and file)
    """

    def __init__(self, config: ModelConfig = None, *, metadata: dict = None, checkpoint_path: str = None,
                 **overrides):
        super().__init__()
        if config is None:
            config = ModelConfig(**overrides)
        elif overrides:
            config = ModelConfig.from_dict({**config.to_dict(), **overrides})
        self.config = config
        self.metadata = dict(metadata or {})
        self.checkpoint_path = checkpoint_path
        self.flow = UNet(6, 4, config.width, config.leaky_head) if config.flow == "unet" else None
        self.interp = UNet(20, 5, config.width, config.leaky_head)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)

    # ---- loading and saving -------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, path=None, device=None, **overrides) -> "SuperSloMo":
        """The model in a checkpoint file: a reference `SuperSloMo.ckpt` or a slomo checkpoint (`None`:
        the shipped one). `slomo.load` calls this for a file, and also takes "reference" and "untrained".
        overrides: ModelConfig fields to change, e.g. flip_ensemble=False."""
        path = Path(path) if path is not None else default_checkpoint()
        config, state, metadata = read_checkpoint(path)
        with torch.device("meta"):  # no random initialisation of weights that are loaded next
            model = cls(config, metadata=metadata, checkpoint_path=str(path), **overrides)
        check_state_dict(model, state, path)
        model.load_state_dict({k: v.float().contiguous() for k, v in state.items()}, assign=True)
        model.mean = torch.tensor(MEAN).view(1, 3, 1, 1)  # the one buffer not in the state dict
        return model.to(runtime.resolve_device(device)).eval()

    def save(self, path, **metadata) -> Path:
        """Write the project's checkpoint format (config, weights, metadata such as step and metrics)."""
        return write_checkpoint(path, self.config, self.state_dict(), **metadata)

    @property
    def device(self) -> torch.device:
        return self.interp.conv1.weight.device

    @property
    def memory_format(self) -> torch.memory_format:
        """The weights' memory format: contiguous unless the caller chose channels_last
        (`model.to(memory_format=...)`, `slomo.cpu.memory.tune_for_conversion`)."""
        w = self.interp.conv1.weight
        last = not w.is_contiguous() and w.is_contiguous(memory_format=torch.channels_last)
        return torch.channels_last if last else torch.contiguous_format

    def precompute_kernels(self, height: int, width: int) -> int:
        """Compute now the NNPACK kernel transforms that fp32 CPU inference on (height, width) frames
        keeps (`slomo.cpu.conv.precompute_kernels`); returns how many."""
        H, W = Padder((height, width)).padded_size
        return sum(precompute_kernels(net.levels(), H, W) for net in (self.flow, self.interp) if net is not None)

    # ---- the computation ----------------------------------------------------------------
    def flows(self, I0, I1):
        """Bidirectional flow, sized for the pair padded to multiples of 32.

        I0, I1: (B,3,H,W) float RGB in [0,1], any size
        returns F01, F10: (B,2,H32,W32) pixels (dx,dy)
        DIS sees the frames as they are (as the flow baseline does) and its flow is edge-padded;
        the flow U-Net sees the padded frames.
        """
        padder = Padder(I0.shape)
        if self.flow is None:
            F01, F10 = padder.pad(*dis_flow(I0, I1, self.config.dis_preset))
            return F01, F10
        I0, I1 = padder.pad(I0, I1)
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
        B = I0.shape[0]
        t = as_times(t, B, I0.device)
        T = t.shape[1]
        padder = Padder(I0.shape)
        I0p, I1p = padder.pad(I0.float(), I1.float())
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
        result = {"F01": padder.unpad(F01), "F10": padder.unpad(F10)} if aux else {}
        for k, v in out.items():
            v = padder.unpad(v)
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
        Changes nothing outside the call; the inputs take the weights' memory format.
        """
        check_pair(I0, I1, values=True)
        device = self.device
        prec = runtime.resolve_precision(precision, device)
        fmt = self.memory_format
        if prefers_single_items(device, prec):
            max_batch = 1  # NNPACK on CPU: one (pair, t) item per pass is fastest
        I0 = I0.to(device, torch.float32).contiguous(memory_format=fmt)
        I1 = I1.to(device, torch.float32).contiguous(memory_format=fmt)
        with runtime.autocast(device, prec):
            out = self.forward(I0, I1, t, max_batch=max_batch, aux=return_aux)
            if self.config.flip_ensemble and ensemble:  # the mirrored pair: a second, independent flow estimate
                mirrored = self.forward(I0.flip(-1), I1.flip(-1), t, max_batch=max_batch, aux=False)
                out["It"] = (out["It"] + mirrored["It"].flip(-1)) / 2
        frames = out.pop("It").clamp_(0, 1)
        return (frames, out) if return_aux else frames

