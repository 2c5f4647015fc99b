"""`TrainConfig`: everything a training run depends on, a validated dataclass read from a TOML or
JSON file plus key=value overrides (`load_config`), and the learning-rate schedule it sets (`lr_factor`).
"""
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch

from .. import runtime
from ..config import ModelConfig, check_fields, check_range
from ..errors import InputError
from ..losses import LOSS_WEIGHTS, REFERENCE_WEIGHTS

SCHEDULES = ("cosine", "step", "constant")
# whole-number settings: (lowest, highest), None for no bound
INT_RANGES = {"steps": (1, None), "batch_size": (1, None), "crop": (32, None), "log_every": (1, None),
              "span": (0, None), "warmup": (0, None), "flow_warmup": (0, None), "step_every": (0, None),
              "val_every": (0, None), "ckpt_every": (0, None), "image_every": (0, None), "threads": (0, 256),
              "loader_threads": (-1, 256), "targets": (1, None), "hard_crops": (1, None), "seed": (0, 2 ** 32 - 1)}
RESUMABLE = {"steps", "progress", "val_every", "ckpt_every", "log_every", "image_every", "threads", "loader_threads"}


@dataclass
class TrainConfig:
    """Everything a training run depends on. Saved as `config.json` in the run folder.

    data:       prepared clip dataset folder (`slomo prepare`) or a flow-cache `.npz` (dis front end)
    val:        triplet folder for validation PSNR/SSIM at t = 0.5 ("" = none)
    out:        run folder
    model:      ModelConfig fields (width, flow, padding, leaky_head, dis_preset)
    init:       checkpoint to start from: the reference SuperSloMo.ckpt or a slomo checkpoint ("" = random)
    init_flow_only: take only the flow network from `init`
    flow_warmup: steps (from step 0) in which only the flow network learns, regressed onto the DIS flow
                of a flow-cache `.npz` (the `unet` front end's warm start); end-to-end training follows
    zero_head:  zero the interpolation network's last convolution, so step 0 is plain flow interpolation
    visibility_init: with zero_head, the visibility channel of that convolution is drawn from a normal
                of this std instead (0 = zero too): a zero visibility logit is exactly 0.5 everywhere
                and, with every head weight zero, no gradient reaches the rest of the network
    hard_crops: for a footage cache (data = its folder): of this many random crops, `hard_prob` of the
                samples take the one where the two warps disagree most (1 = plain random crops)
    kaiming_init: He-normal init (leaky ReLU 0.1) of networks not loaded from `init`; PyTorch's default
                init shrinks activations ~20x through the U-Net, which makes a zero head learn very slowly
    weights:    loss weights; the reference's are 204/102/0.005/1 (reconstruction/warping/perceptual/smoothness);
                `visibility` (default 0) adds `losses.visibility_loss`
    vgg_weights: torchvision VGG16 weights file for the perceptual loss ("" = torchvision's cache, if present)
    loader_threads: threads making the next batches while a step runs (they are the same batches);
                -1 = auto: up to 4 on a GPU, none on a CPU (where the cores are busy training)
    """
    data: str = ""
    val: str = ""
    out: str = "runs/train"
    model: dict = field(default_factory=dict)
    init: str = ""
    init_flow_only: bool = False
    flow_warmup: int = 0
    zero_head: bool = False
    visibility_init: float = 0.0
    hard_crops: int = 1
    hard_prob: float = 0.5
    kaiming_init: bool = False
    steps: int = 1000
    batch_size: int = 8
    crop: int = 128
    span: int = 0
    targets: int = 1
    augment: bool = True
    hard_fraction: float = 1.0
    lr: float = 1e-4
    lr_min: float = 1e-6
    schedule: str = "cosine"
    warmup: int = 0
    step_every: int = 0
    step_gamma: float = 0.1
    grad_clip: float = 1.0
    weights: dict = field(default_factory=lambda: dict(REFERENCE_WEIGHTS))
    vgg_weights: str = ""
    precision: str = "fp32"
    channels_last: bool = True
    device: str = "auto"
    seed: int = 0
    log_every: int = 50
    val_every: int = 500
    ckpt_every: int = 500
    image_every: int = 0
    threads: int = 0
    loader_threads: int = -1
    progress: bool = True

    def __post_init__(self):
        check_fields(self)  # every field of its declared type
        self.model_config = ModelConfig.from_dict(dict(self.model))
        for name, (lo, hi) in INT_RANGES.items():
            check_range(name, getattr(self, name), lo, hi)
        if self.crop % 32:
            raise InputError(f"crop must be a multiple of 32, got {self.crop}")
        if self.batch_size * self.targets * 3 * self.crop ** 2 >= 2 ** 31:  # one warp's grid_sample input
            raise InputError(f"batch_size x targets x 3 x crop^2 must stay below 2**31 (a warp's 32-bit indexing); "
                             f"got {self.batch_size} x {self.targets} x 3 x {self.crop}^2")
        if not 0 < self.hard_fraction <= 1:
            raise InputError(f"hard_fraction must be in (0, 1], got {self.hard_fraction}")
        if not (self.lr > 0 and 0 <= self.lr_min <= self.lr):
            raise InputError(f"need lr > 0 and 0 <= lr_min <= lr, got lr={self.lr}, lr_min={self.lr_min}")
        if not self.step_gamma > 0:
            raise InputError(f"step_gamma must be > 0, got {self.step_gamma}")
        if self.schedule not in SCHEDULES:
            raise InputError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        check_range("grad_clip (0 = off)", self.grad_clip, 0)
        check_range("hard_prob", self.hard_prob, 0, 1)
        if not 0 <= self.visibility_init < 10:
            raise InputError(f"visibility_init must be in [0, 10), got {self.visibility_init}")
        self.weights = _loss_weights(self.weights)
        if self.precision not in runtime.PRECISIONS:
            raise InputError(f"precision must be one of {runtime.PRECISIONS}, got {self.precision!r}")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except (RuntimeError, ValueError) as e:
                raise InputError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}") from e
        if not self.data:
            raise InputError("no training data given (set data = a prepared folder or a flow-cache .npz)")
        if not self.out:
            raise InputError("out must name the run folder")

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _loss_weights(weights: dict) -> dict:
    """Every loss term's weight, a finite number >= 0 (terms not given weigh 0)."""
    unknown = sorted(map(str, set(weights) - set(LOSS_WEIGHTS)))
    if unknown:
        raise InputError(f"unknown loss weights: {', '.join(unknown)} (known: {', '.join(LOSS_WEIGHTS)})")
    out = {}
    for k in LOSS_WEIGHTS:
        v = weights.get(k, 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < math.inf:
            raise InputError(f"loss weight {k} must be a finite number >= 0, got {v!r}")
        out[k] = float(v)
    if not any(out.values()):
        raise InputError("every loss weight is 0, so there is nothing to train; give at least one a weight > 0 "
                         f"(the reference's: {', '.join(f'{k}={v:g}' for k, v in REFERENCE_WEIGHTS.items())})")
    return out


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        low = text.lower()
        return {"true": True, "false": False}.get(low, text)


def load_config(path=None, overrides=()) -> TrainConfig:
    """A TrainConfig from a TOML or JSON file (optional) plus `key=value` overrides
    (dotted keys reach into tables, e.g. `model.width=0.5`, `weights.perceptual=0`)."""
    d = {}
    if path:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"config file not found: {path}")
        try:
            if path.suffix == ".toml":
                import tomllib
                d = tomllib.loads(path.read_text())
            else:
                d = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'} ({e})") from e
    if any(str(item).strip().startswith("weights.") for item in overrides) and "weights" not in d:
        d["weights"] = dict(REFERENCE_WEIGHTS)  # an override changes one weight of the defaults, not all
    for item in overrides:
        if "=" not in item:
            raise InputError(f"override {item!r} is not key=value")
        key, value = item.split("=", 1)
        *parents, leaf = key.strip().split(".")
        node = d
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise InputError(f"override {item!r}: {p} is not a table")
        node[leaf] = _parse_value(value)
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise InputError(f"unknown config keys: {', '.join(unknown)}")
    return TrainConfig(**d)


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Multiplier on cfg.lr at `step`: linear warm-up, then cosine to lr_min, step decay or constant."""
    warm = min(1.0, (step + 1) / cfg.warmup) if cfg.warmup else 1.0
    if cfg.schedule == "cosine":
        p = min(step, cfg.steps) / cfg.steps
        lo = cfg.lr_min / cfg.lr
        f = lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * p))
    elif cfg.schedule == "step" and cfg.step_every:
        f = cfg.step_gamma ** (step // cfg.step_every)
    else:
        f = 1.0
    return warm * f
