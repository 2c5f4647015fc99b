"""Training: `TrainConfig` (a validated dataclass, from a TOML/JSON file plus key=value overrides) and
`train(config) -> Path` (the best checkpoint). Runs on one CPU/GPU or under `torchrun` (DDP).

A run folder holds `config.json`, `state.pt` (exact-resume state: model, optimizer, scheduler, step,
RNG states), `last.pt` and `best.pt` (project-format checkpoints) and tensorboard event files.
Every batch is drawn from a generator seeded by (seed, step, rank), so a resumed run sees the same
batches it would have seen without the interruption.
"""
import json
import math
import os
import random
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from . import metrics, runtime
from .checkpoint import atomic_save, non_finite, read_checkpoint
from .config import ModelConfig, check_fields, check_range
from .data import Prefetcher, collate, open_dataset
from .errors import CheckpointError, InputError
from .files import atomic_output, check_apart
from .losses import (
    LOSS_WEIGHTS,
    REFERENCE_WEIGHTS,
    flow_regression_loss,
    load_vgg16_conv4_3,
    total_loss,
)
from .model import SuperSloMo

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


# ---- helpers ----------------------------------------------------------------------------------------------
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


def _flow_image(flow, max_norm: float):
    """(2,H,W) pixels (dx,dy) -> (3,H,W) float RGB in [0,1], colour-coded by `slomo.viz.flow_to_color`."""
    from .viz import flow_to_color
    return torch.from_numpy(flow_to_color(flow.detach().float().cpu(), max_norm)).permute(2, 0, 1).float() / 255


def validate(model, dataset) -> dict:
    """Mean PSNR and SSIM of the model on a data set of known middles, through the one
    `slomo.evaluate.evaluate` that the CLI and the notebooks use.

    dataset: a folder (layout detected) or a `slomo.evaluate.Dataset`
    returns {"psnr": float, "ssim": float, "separation": float, "n": int}; for a `dis` model also
    "front_end_psnr", its flow interpolation without the network (`baselines.FlowInterp`), when
    `front_end` is true
    """
    from .evaluate import evaluate
    res = evaluate(model, dataset)
    out = {"psnr": res.means["psnr"], "ssim": res.means["ssim"],
           "separation": res.means.get("separation", math.nan), "n": len(res.rows)}
    return out


def front_end_psnr(config: ModelConfig, dataset) -> float:
    """Mean PSNR of a `dis` model's flow interpolation without its network (the same DIS preset,
    padding and mirror-image ensemble): what the network's gain is measured against."""
    from .baselines import FlowInterp
    from .evaluate import evaluate
    method = FlowInterp(preset=config.dis_preset, padding=config.padding, flip_ensemble=config.flip_ensemble)
    return evaluate(method, dataset).means["psnr"]


def _rng_state() -> dict:
    """The global RNG states as tensors and plain containers (loadable with weights_only=True)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, py_gauss = random.getstate()
    return {"torch": torch.get_rng_state(),
            "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                      "has_gauss": int(has_gauss), "gauss": float(gauss)},
            "python": {"version": version, "state": list(internal), "gauss": py_gauss}}


def _set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    n = s["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = s["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2 ** 32)
    random.seed(seed)


class Trainer:
    """One training run. `step()` runs one optimisation step and returns (loss, metrics)."""

    def __init__(self, cfg: TrainConfig, rank: int = 0, world: int = 1):
        self.cfg, self.rank, self.world = cfg, rank, world
        try:
            self.device = runtime.resolve_device(cfg.device)
        except ValueError as e:
            raise InputError(str(e)) from None
        self.precision = runtime.resolve_precision(cfg.precision, self.device)
        self.out = Path(cfg.out)
        if cfg.threads:
            import cv2
            torch.set_num_threads(cfg.threads)
            cv2.setNumThreads(cfg.threads)  # DIS flow in validation
        _seed_all(cfg.seed)
        self.model = self._build_model().to(self.device)
        self.fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model.to(memory_format=self.fmt)
        self.ddp = None
        if world > 1:
            # the only buffer is the constant RGB mean: nothing to broadcast
            self.ddp = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                forward_sync_buffers=False)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.Adam(trainable, lr=cfg.lr)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: lr_factor(s, cfg))
        preset = cfg.model_config.dis_preset if cfg.model_config.flow == "dis" else None
        self.data = open_dataset(cfg.data, (cfg.crop, cfg.crop), cfg.span or None, cfg.targets, cfg.augment, preset,
                                 cfg.hard_fraction, cfg.hard_crops, cfg.hard_prob)
        has_flows = getattr(self.data, "flows", None) is not None
        if cfg.flow_warmup and (cfg.model_config.flow != "unet" or not has_flows):
            raise InputError("flow_warmup needs flow = 'unet' and a flow cache (.npz) as data (its DIS flow "
                             "is the target)")
        self.features, self.notes = None, []
        if cfg.weights["perceptual"] > 0:
            self.features = load_vgg16_conv4_3(cfg.vgg_weights or None, self.device)
            if self.features is None:
                msg = ("perceptual loss switched off: no VGG16 weights found (give vgg_weights = a "
                       "torchvision vgg16 .pth file, or put it in torchvision's cache)")
                self.notes.append(msg)
                if rank == 0:
                    print(f"slomo train: {msg}", flush=True)
        n = cfg.loader_threads
        if n < 0:  # auto: on a GPU, making each batch inside the step took ~80% of it (bench/README.md)
            n = min(4, max(1, (os.cpu_count() or 2) - 1)) if self.device.type == "cuda" else 0
        self.prefetch = Prefetcher(self.batch, n) if n else None
        self.val = None
        if cfg.val and rank == 0:
            from .evaluate import load_dataset
            self.val = load_dataset(cfg.val)
        self.step_no, self.best = 0, -math.inf
        self.history = []

    def _build_model(self) -> SuperSloMo:
        cfg = self.cfg
        model = SuperSloMo(cfg.model_config)
        if cfg.init:
            config, state, _ = read_checkpoint(cfg.init)
            prefixes = ("flow.",) if cfg.init_flow_only else ("flow.", "interp.")
            own = model.state_dict()
            picked = {k: v for k, v in state.items() if k.startswith(prefixes) and k in own}
            bad = [k for k, v in picked.items() if v.shape != own[k].shape]
            if bad or not picked:
                raise CheckpointError(f"{cfg.init}: does not fit this model (width {config.width} vs "
                                      f"{cfg.model_config.width}, flow {config.flow} vs {cfg.model_config.flow})")
            model.load_state_dict(picked, strict=False)
        if cfg.kaiming_init:
            loaded = ("flow", "interp") if cfg.init and not cfg.init_flow_only else ("flow",) if cfg.init else ()
            for name in ("flow", "interp"):
                net = getattr(model, name)
                if net is None or name in loaded:
                    continue
                for mod in net.modules():
                    if isinstance(mod, torch.nn.Conv2d):
                        torch.nn.init.kaiming_normal_(mod.weight, a=0.1, nonlinearity="leaky_relu")
                        torch.nn.init.zeros_(mod.bias)
        if cfg.zero_head:
            torch.nn.init.zeros_(model.interp.conv3.weight)
            torch.nn.init.zeros_(model.interp.conv3.bias)
            if cfg.visibility_init:
                with torch.no_grad():
                    model.interp.conv3.weight[4:5].normal_(0.0, cfg.visibility_init)
        return model

    # ---- batches ----------------------------------------------------------------------------------------------
    def batch(self, step: int) -> dict:
        """The batch for `step` on this rank: a pure function of (seed, step, rank)."""
        g = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + step * 7919 + self.rank)
        idx = torch.randint(0, len(self.data), (self.cfg.batch_size,), generator=g)
        return collate([self.data.get(int(i), g) for i in idx])

    def loss(self, net, I0, I1, It, t, flows):
        """(loss tensor, float terms, model outputs) for one batch. `flows` (cached DIS) feed the dis
        front end; the unet front end computes its own."""
        flows = flows if self.cfg.model_config.flow == "dis" else None
        with runtime.autocast(self.device, self.precision):
            out = net(I0, I1, t, flows=flows)
        loss, terms = total_loss(out, I0, I1, It, self.cfg.weights, self.features, self.cfg.model_config.padding)
        return loss, terms, out

    @torch.no_grad()
    def batch_loss(self, b: dict) -> float:
        """The loss of the current model on batch `b` (no update; eval mode)."""
        dev = self.device
        flows = None if b["flows"] is None else (b["flows"][:, :2].to(dev), b["flows"][:, 2:].to(dev))
        self.model.eval()
        loss, _, _ = self.loss(self.model, b["I0"].to(dev), b["I1"].to(dev), b["It"].to(dev), b["t"].to(dev), flows)
        return float(loss)

    def step(self) -> tuple:
        """One optimisation step. Returns (loss float, metrics dict)."""
        cfg = self.cfg
        b = self.prefetch.get(self.step_no) if self.prefetch else self.batch(self.step_no)
        dev, fmt = self.device, self.fmt
        I0 = b["I0"].to(dev).contiguous(memory_format=fmt)
        I1 = b["I1"].to(dev).contiguous(memory_format=fmt)
        It, t = b["It"].to(dev), b["t"].to(dev)
        flows = None if b["flows"] is None else (b["flows"][:, :2].to(dev), b["flows"][:, 2:].to(dev))
        self.model.train()
        net = self.ddp or self.model
        warm = self.step_no < cfg.flow_warmup
        if warm:  # DIS flow is the target, the flow network the only thing learning
            with runtime.autocast(self.device, self.precision):
                F01, F10 = self.model.flows(I0, I1)
            loss = flow_regression_loss(F01, F10, *flows)
            terms = {"flow_regression": float(loss.detach())}
            out = {"F01": F01.detach(), "F10": F10.detach()}
        else:
            loss, terms, out = self.loss(net, I0, I1, It, t, flows)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if warm and self.world > 1:  # called outside DDP's forward: average the flow network's gradients here
            for p in self.model.flow.parameters():
                if p.grad is not None:
                    torch.distributed.all_reduce(p.grad)
                    p.grad /= self.world
        gnorm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip or float("inf"))
        self.opt.step()
        self.sched.step()
        self.step_no += 1
        m = {"loss": float(loss.detach()), "grad_norm": float(gnorm), "lr": self.sched.get_last_lr()[0], **terms}
        if "It" in out:  # not during the flow warm-up
            with torch.no_grad():
                pred = out["It"].detach().clamp(0, 1).flatten(0, 1)
                m["psnr"] = float(metrics.psnr(pred, It.flatten(0, 1)).mean())
        self._last = (b, out)
        return float(loss.detach()), m

    def close(self) -> None:
        """Stop the batch-making threads (`train` calls this; call it when driving a Trainer by hand)."""
        if self.prefetch is not None:
            self.prefetch.close()
            self.prefetch = None

    # ---- saving and resuming ---------------------------------------------------------------------------------
    def metadata(self, val: dict = None) -> dict:
        return {"step": self.step_no, "data": str(self.cfg.data), "val_set": str(self.cfg.val),
                "val": val or {}, "train_config": self.cfg.to_dict(), "notes": list(self.notes),
                "world_size": self.world}

    def save_state(self) -> Path:
        """Exact-resume state (rank 0 writes it)."""
        state = {"step": self.step_no, "model": self.model.state_dict(), "opt": self.opt.state_dict(),
                 "sched": self.sched.state_dict(), "rng": _rng_state(), "best": self.best,
                 "history": self.history, "config": self.cfg.to_dict()}
        return atomic_save(state, self.out / "state.pt")

    def load_state(self, path) -> None:
        """Resume from `save_state`'s file, loaded safely (tensors and plain containers only).
        A file that is refused, corrupt, truncated, of another kind or non-finite: CheckpointError."""
        fresh = "start over with --fresh"
        try:
            s = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - unpickling refused, or a corrupt/truncated file
            raise CheckpointError(f"{path}: cannot resume from this training state ({type(e).__name__}); "
                                  f"{fresh}") from e
        if not isinstance(s, dict) or not {"step", "model", "opt", "sched", "rng", "best"} <= set(s):
            raise CheckpointError(f"{path}: not a training state of slomo train; {fresh}")
        bad = non_finite(s["model"]) if isinstance(s["model"], dict) else None
        if bad:
            raise CheckpointError(f"{path}: tensor {bad!r} holds non-finite values (the run diverged); {fresh}")
        try:
            self.model.load_state_dict(s["model"])
            self.opt.load_state_dict(s["opt"])
            self.sched.load_state_dict(s["sched"])
            _set_rng_state(s["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as e:
            why = " ".join(str(e).split())[:120]
            raise CheckpointError(f"{path}: this training state does not fit the run ({why}); {fresh}") from e
        self.step_no, self.best, self.history = s["step"], s["best"], s.get("history", [])

    def save_checkpoint(self, name: str, val: dict = None) -> Path:
        return self.model.save(self.out / name, **self.metadata(val))


def _log_images(writer, trainer: Trainer, step: int) -> None:
    """Image grid (I0, prediction, ground truth, I1), colour-coded flows and the visibility map."""
    b, out = trainer._last
    I0, I1, It = b["I0"][0], b["I1"][0], b["It"][0, 0]
    if "It" not in out:  # flow warm-up: the flow network's output beside its DIS target
        flows = [out["F01"][0], b["flows"][0, :2], out["F10"][0], b["flows"][0, 2:]]
        norm = max(float(f.detach().abs().max()) for f in flows) or 1.0
        writer.add_image("train/flows_F01_DIS_F10_DIS", torch.cat([_flow_image(f, norm) for f in flows], dim=2), step)
        return
    pred = out["It"][0, 0].detach().float().clamp(0, 1).cpu()
    writer.add_image("train/I0_pred_gt_I1", torch.cat([I0, pred, It, I1], dim=2).clamp(0, 1), step)
    flows = [out["F01"][0], out["F10"][0], out["Ft0_refined"][0, 0], out["Ft1_refined"][0, 0]]
    norm = max(float(f.detach().abs().max()) for f in flows) or 1.0
    writer.add_image("train/flows_F01_F10_Ft0_Ft1", torch.cat([_flow_image(f, norm) for f in flows], dim=2), step)
    writer.add_image("train/visibility_Vt0", out["Vt0"][0, 0].detach().float().cpu().clamp(0, 1), step)


def _distributed():
    """(rank, world) from torchrun's environment; initialises the process group when world > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return rank, world


def _is_run_folder(folder: Path) -> bool:
    """True for a folder that `train` wrote: its config.json is a training config."""
    try:
        saved = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(saved, dict) and {"data", "out", "model", "steps", "weights"} <= set(saved)


def _check_run_folder(cfg: TrainConfig) -> None:
    """InputError unless the run folder is new, empty or a run folder of `train`, apart from every input."""
    out = Path(cfg.out)
    check_apart(out, [cfg.data, cfg.val, cfg.init, cfg.vgg_weights], "run folder")
    if out.exists() and not out.is_dir():
        raise InputError(f"the run folder {out} is a file")
    if out.is_dir() and any(out.iterdir()) and not _is_run_folder(out):
        raise InputError(f"{out} is not empty and holds no run of slomo train (no config.json of its own); "
                         f"give out a new or empty folder, or a run folder")


def _check_same_run(cfg: TrainConfig, out: Path) -> None:
    """InputError when the run in `out` was started with another config (keys added to TrainConfig
    since then count at their default; RESUMABLE ones may change)."""
    saved = json.loads((out / "config.json").read_text()) if (out / "config.json").is_file() else {}
    now = json.loads(json.dumps(cfg.to_dict()))
    defaults = {f.name: f.default for f in fields(TrainConfig) if not callable(f.default_factory)}
    if saved and saved != now:
        diff = sorted(k for k in now if (saved[k] != now[k] if k in saved else
                                         k not in defaults or defaults[k] != now[k]))
        if set(diff) - RESUMABLE:
            raise InputError(f"{out} holds a run with a different config ({', '.join(diff)}); use another out folder")


def train(config: TrainConfig, resume: bool = True) -> Path:
    """Train (or resume, when the run folder holds `state.pt`). Returns the best checkpoint's path
    (best validation PSNR; the last checkpoint when there is no validation set).
    Ctrl-C saves the resume state and a checkpoint first, then re-raises KeyboardInterrupt."""
    cfg = config
    rank, world = _distributed()
    if world > 1 and cfg.device == "auto" and torch.cuda.is_available():
        cfg.device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    out = Path(cfg.out)
    state_path = out / "state.pt"
    _check_run_folder(cfg)  # on every rank, before any of them writes
    if world > 1:
        torch.distributed.barrier()
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        if state_path.is_file() and resume:
            _check_same_run(cfg, out)
        with atomic_output(out / "config.json", overwrite=True) as tmp:
            tmp.write_text(json.dumps(cfg.to_dict(), indent=1))
    if world > 1:
        torch.distributed.barrier()
    trainer = Trainer(cfg, rank, world)
    if resume and state_path.is_file():
        trainer.load_state(state_path)
    writer = None
    if rank == 0:
        from tensorboardX import SummaryWriter
        writer = SummaryWriter(str(out))
        for note in trainer.notes:
            writer.add_text("notes", note, trainer.step_no)
    from tqdm.auto import tqdm

    bar = tqdm(total=cfg.steps, initial=trainer.step_no, desc="train", unit="step",
               disable=not (cfg.progress and rank == 0))
    best_path = out / ("best.pt" if cfg.val else "last.pt")
    running, t0 = [], time.time()
    try:
        if rank == 0 and trainer.step_no == 0 and trainer.val:
            v = validate(trainer.model, trainer.val)
            if cfg.model_config.flow == "dis":
                v["front_end_psnr"] = front_end_psnr(cfg.model_config, trainer.val)
                writer.add_scalar("val/front_end_psnr", v["front_end_psnr"], 0)
            trainer.best = v["psnr"]
            writer.add_scalar("val/psnr", v["psnr"], 0)
            writer.add_scalar("val/ssim", v["ssim"], 0)
            writer.add_scalar("val/separation", v["separation"], 0)
            trainer.history.append({"step": 0, **v})
            trainer.save_checkpoint("best.pt", v)
        while trainer.step_no < cfg.steps:
            loss, m = trainer.step()
            running.append(m)
            s = trainer.step_no
            bar.update(1)
            if rank != 0:
                continue
            if s % cfg.log_every == 0 or s == cfg.steps:
                mean = {k: float(np.mean([r[k] for r in running if k in r])) for k in running[-1]}
                for k, v in mean.items():
                    writer.add_scalar(f"train/{k}", v, s)
                writer.add_scalar("train/samples_per_s", len(running) * cfg.batch_size * world / (time.time() - t0), s)
                bar.set_postfix(loss=f"{mean['loss']:.4f}", psnr=f"{mean.get('psnr', math.nan):.2f}")
                running, t0 = [], time.time()
            if cfg.image_every and s % cfg.image_every == 0:
                _log_images(writer, trainer, s)
            if trainer.val and cfg.val_every and (s % cfg.val_every == 0 or s == cfg.steps):
                v = validate(trainer.model, trainer.val)
                writer.add_scalar("val/psnr", v["psnr"], s)
                writer.add_scalar("val/ssim", v["ssim"], s)
                writer.add_scalar("val/separation", v["separation"], s)
                trainer.history.append({"step": s, **v})
                if v["psnr"] > trainer.best:
                    trainer.best = v["psnr"]
                    trainer.save_checkpoint("best.pt", v)
            if (cfg.ckpt_every and s % cfg.ckpt_every == 0) or s == cfg.steps:
                last_val = trainer.history[-1] if trainer.history else None
                trainer.save_checkpoint("last.pt", last_val)
                trainer.save_state()
    except KeyboardInterrupt:
        if rank == 0:
            trainer.save_checkpoint("last.pt")
            trainer.save_state()
            print(f"slomo train: interrupted at step {trainer.step_no}; saved {state_path} (run again to resume)",
                  flush=True)
        raise
    finally:
        trainer.close()
        bar.close()
        if writer is not None:
            writer.close()
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return best_path
