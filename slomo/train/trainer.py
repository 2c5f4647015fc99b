"""`Trainer`: one training run's model, optimizer, schedule and data; `step()` runs one optimisation
step and returns (loss, metrics). The model's forward pass is `SuperSloMo.forward`, i.e. the same
`slomo.synthesis.synthesize` that inference runs; the loss is `slomo.losses.total_loss`.

Every batch is drawn from a generator seeded by (seed, step, rank), so a resumed run sees the same
batches it would have seen without the interruption; `save_state` / `load_state` keep the rest.
"""
import math
import os
from pathlib import Path

import torch

from .. import metrics, runtime
from ..checkpoint import atomic_save
from ..data import Prefetcher, collate, open_dataset
from ..errors import InputError
from ..evaluate import load_dataset
from ..losses import flow_regression_loss, load_vgg16_conv4_3, total_loss
from .config import TrainConfig, lr_factor
from .init_model import build_model
from .state import does_not_fit, read_state, rng_state, seed_all, set_rng_state

GPU_LOADER_THREADS = 4  # batch-making threads on a GPU by default (docs/training-internals.md); none on a CPU


class Trainer:
    """One training run. `step()` runs one optimisation step and returns (loss, metrics).

    After a step, `last` holds (batch, model outputs) for pictures of it."""

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
        seed_all(cfg.seed)
        self.model = build_model(cfg).to(self.device)
        self.fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model.to(memory_format=self.fmt)
        self.ddp = _data_parallel(self.model, self.device) if world > 1 else None
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.Adam(trainable, lr=cfg.lr)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: lr_factor(s, cfg))
        self.data = self._open_data()
        self.features, self.notes = self._perceptual_features()
        n = _loader_threads(cfg.loader_threads, self.device)
        self.prefetch = Prefetcher(self.batch, n) if n else None
        self.val = load_dataset(cfg.val) if cfg.val and rank == 0 else None
        self.step_no, self.best = 0, -math.inf
        self.history, self.last = [], None

    def _open_data(self):
        cfg = self.cfg
        preset = cfg.model_config.dis_preset if cfg.model_config.flow == "dis" else None
        data = open_dataset(cfg.data, (cfg.crop, cfg.crop), cfg.span or None, cfg.targets, cfg.augment, preset,
                            cfg.hard_fraction, cfg.hard_crops, cfg.hard_prob, teacher=cfg.weights["distillation"] > 0)
        has_flows = getattr(data, "flows", None) is not None
        if cfg.flow_warmup and (cfg.model_config.flow != "unet" or not has_flows):
            raise InputError("flow_warmup needs flow = 'unet' and a flow cache (.npz) as data (its DIS flow "
                             "is the target)")
        return data

    def _perceptual_features(self) -> tuple:
        """(VGG16 features or None, notes): the perceptual loss is switched off, with a note, when
        no weights are found."""
        cfg, notes = self.cfg, []
        if not cfg.weights["perceptual"] > 0:
            return None, notes
        features = load_vgg16_conv4_3(cfg.vgg_weights or None, self.device)
        if features is None:
            msg = ("perceptual loss switched off: no VGG16 weights found (give vgg_weights = a "
                   "torchvision vgg16 .pth file, or put it in torchvision's cache)")
            notes.append(msg)
            if self.rank == 0:
                print(f"slomo train: {msg}", flush=True)
        return features, notes

    # ---- batches and steps -------------------------------------------------------------------------
    def batch(self, step: int) -> dict:
        """The batch for `step` on this rank: a pure function of (seed, step, rank)."""
        g = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + step * 7919 + self.rank)
        idx = torch.randint(0, len(self.data), (self.cfg.batch_size,), generator=g)
        return collate([self.data.get(int(i), g) for i in idx])

    def loss(self, net, I0, I1, It, t, flows, teacher=None):
        """(loss tensor, float terms, model outputs) for one batch. `flows` (cached DIS) feed the dis
        front end; the unet front end computes its own. `teacher`: (flows, ok) of the batch or None."""
        flows = flows if self.cfg.model_config.flow == "dis" else None
        with runtime.autocast(self.device, self.precision):
            out = net(I0, I1, t, flows=flows)
        loss, terms = total_loss(out, I0, I1, It, self.cfg.weights, self.features, self.cfg.model_config.padding,
                                 teacher)
        return loss, terms, out

    def _teacher(self, b: dict):
        """The batch's (teacher flows, ok) on the device, or None."""
        return (b["teacher"].to(self.device), b["teacher_ok"].to(self.device)) if "teacher" in b else None

    def _flow_warmup_loss(self, I0, I1, flows):
        """(loss, terms, outputs) of the flow network regressed onto the cached DIS flow."""
        with runtime.autocast(self.device, self.precision):
            F01, F10 = self.model.flows(I0, I1)
        loss = flow_regression_loss(F01, F10, *flows)
        return loss, {"flow_regression": float(loss.detach())}, {"F01": F01.detach(), "F10": F10.detach()}

    @torch.no_grad()
    def batch_loss(self, b: dict) -> float:
        """The loss of the current model on batch `b` (no update; eval mode)."""
        dev = self.device
        flows = None if b["flows"] is None else (b["flows"][:, :2].to(dev), b["flows"][:, 2:].to(dev))
        self.model.eval()
        loss, _, _ = self.loss(self.model, b["I0"].to(dev), b["I1"].to(dev), b["It"].to(dev), b["t"].to(dev), flows,
                               self._teacher(b))
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
        warm = self.step_no < cfg.flow_warmup
        if warm:  # DIS flow is the target, the flow network the only thing learning
            loss, terms, out = self._flow_warmup_loss(I0, I1, flows)
        else:
            loss, terms, out = self.loss(self.ddp or self.model, I0, I1, It, t, flows, self._teacher(b))
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
        self.last = (b, out)
        return float(loss.detach()), m

    def close(self) -> None:
        """Stop the batch-making threads (`train` calls this; call it when driving a Trainer by hand)."""
        if self.prefetch is not None:
            self.prefetch.close()
            self.prefetch = None

    # ---- saving and resuming -----------------------------------------------------------------------
    def metadata(self, val: dict = None) -> dict:
        return {"step": self.step_no, "data": str(self.cfg.data), "val_set": str(self.cfg.val),
                "val": val or {}, "train_config": self.cfg.to_dict(), "notes": list(self.notes),
                "world_size": self.world}

    def save_state(self) -> Path:
        """Exact-resume state (rank 0 writes it), `slomo.train.state`'s format."""
        state = {"step": self.step_no, "model": self.model.state_dict(), "opt": self.opt.state_dict(),
                 "sched": self.sched.state_dict(), "rng": rng_state(), "best": self.best,
                 "history": self.history, "config": self.cfg.to_dict()}
        return atomic_save(state, self.out / "state.pt")

    def load_state(self, path) -> None:
        """Resume from `save_state`'s file (`slomo.train.state.read_state`: CheckpointError for a bad one)."""
        s = read_state(path)
        try:
            self.model.load_state_dict(s["model"])
            self.opt.load_state_dict(s["opt"])
            self.sched.load_state_dict(s["sched"])
            set_rng_state(s["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as e:
            raise does_not_fit(path, e) from e
        self.step_no, self.best, self.history = s["step"], s["best"], s.get("history", [])

    def save_checkpoint(self, name: str, val: dict = None) -> Path:
        return self.model.save(self.out / name, **self.metadata(val))


def _data_parallel(model, device: torch.device):
    """DDP around the model; the only buffer is the constant RGB mean: nothing to broadcast."""
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None, forward_sync_buffers=False)


def _loader_threads(n: int, device: torch.device) -> int:
    """Batch-making threads: `n`, or for -1 (auto) up to GPU_LOADER_THREADS on a GPU and none on a CPU."""
    if n >= 0:
        return n
    return min(GPU_LOADER_THREADS, max(1, (os.cpu_count() or 2) - 1)) if device.type == "cuda" else 0
