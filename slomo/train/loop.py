"""`train(config) -> Path`: the training loop around a `Trainer`, on one CPU/GPU or under `torchrun` (DDP).

A run folder holds `config.json`, `state.pt` (exact-resume state: model, optimizer, scheduler, step,
RNG states), `last.pt` and `best.pt` (project-format checkpoints) and tensorboard event files.
Validation goes through the one `slomo.evaluate.evaluate` that the command line and the notebooks use.
"""
import json
import math
import os
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from ..baselines import FlowInterp
from ..config import ModelConfig
from ..errors import InputError
from ..evaluate import evaluate
from ..files import atomic_output, check_apart
from ..viz import flow_to_color
from .config import RESUMABLE, TrainConfig
from .trainer import Trainer


def train(config: TrainConfig, resume: bool = True) -> Path:
    """Train (or resume, when the run folder holds `state.pt`). Returns the best checkpoint's path
    (best validation PSNR; the last checkpoint when there is no validation set).
    Ctrl-C saves the resume state and a checkpoint first, then re-raises KeyboardInterrupt."""
    cfg = config
    rank, world = _distributed()
    if world > 1 and cfg.device == "auto" and torch.cuda.is_available():
        cfg.device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    state_path = Path(cfg.out) / "state.pt"
    _open_run_folder(cfg, rank, world, resume)
    trainer = Trainer(cfg, rank, world)
    if resume and state_path.is_file():
        trainer.load_state(state_path)
    log = _RunLog(trainer)
    try:
        if rank == 0 and trainer.step_no == 0 and trainer.val:
            _first_validation(trainer, log)
        while trainer.step_no < cfg.steps:
            _, m = trainer.step()
            log.step(m)
            if rank == 0:
                _after_step(trainer, log)
    except KeyboardInterrupt:
        if rank == 0:
            trainer.save_checkpoint("last.pt")
            trainer.save_state()
            print(f"slomo train: interrupted at step {trainer.step_no}; saved {state_path} (run again to resume)",
                  flush=True)
        raise
    finally:
        trainer.close()
        log.close()
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return Path(cfg.out) / ("best.pt" if cfg.val else "last.pt")


def validate(model, dataset) -> dict:
    """Mean PSNR and SSIM of the model on a data set of known middles, through the one
    `slomo.evaluate.evaluate` that the CLI and the notebooks use.

    dataset: a folder (layout detected) or a `slomo.evaluate.Dataset`
    returns {"psnr": float, "ssim": float, "separation": float, "n": int}
    """
    res = evaluate(model, dataset)
    return {"psnr": res.means["psnr"], "ssim": res.means["ssim"],
            "separation": res.means.get("separation", math.nan), "n": len(res.rows)}


def front_end_psnr(config: ModelConfig, dataset) -> float:
    """Mean PSNR of a `dis` model's flow interpolation without its network (the same DIS preset,
    padding and mirror-image ensemble): what the network's gain is measured against."""
    method = FlowInterp(preset=config.dis_preset, padding=config.padding, flip_ensemble=config.flip_ensemble)
    return evaluate(method, dataset).means["psnr"]


def _first_validation(trainer: Trainer, log: "_RunLog") -> None:
    """Step 0's validation (with a `dis` model's front end alone): the first best checkpoint."""
    cfg = trainer.cfg
    v = validate(trainer.model, trainer.val)
    if cfg.model_config.flow == "dis":
        v["front_end_psnr"] = front_end_psnr(cfg.model_config, trainer.val)
        log.writer.add_scalar("val/front_end_psnr", v["front_end_psnr"], 0)
    trainer.best = v["psnr"]
    log.validation(v, 0)
    trainer.history.append({"step": 0, **v})
    trainer.save_checkpoint("best.pt", v)


def _after_step(trainer: Trainer, log: "_RunLog") -> None:
    """What rank 0 does after a step, when it is due: scalars, pictures, validation, checkpoints."""
    cfg, s = trainer.cfg, trainer.step_no
    if s % cfg.log_every == 0 or s == cfg.steps:
        log.scalars(s, cfg.batch_size * trainer.world)
    if cfg.image_every and s % cfg.image_every == 0:
        log.images(trainer, s)
    if trainer.val and cfg.val_every and (s % cfg.val_every == 0 or s == cfg.steps):
        v = validate(trainer.model, trainer.val)
        log.validation(v, s)
        trainer.history.append({"step": s, **v})
        if v["psnr"] > trainer.best:
            trainer.best = v["psnr"]
            trainer.save_checkpoint("best.pt", v)
    if (cfg.ckpt_every and s % cfg.ckpt_every == 0) or s == cfg.steps:
        last_val = trainer.history[-1] if trainer.history else None
        trainer.save_checkpoint("last.pt", last_val)
        trainer.save_state()


class _RunLog:
    """A run's progress bar and, on rank 0, its tensorboard scalars and pictures."""

    def __init__(self, trainer: Trainer):
        cfg, rank = trainer.cfg, trainer.rank
        self.writer = None
        if rank == 0:
            from tensorboardX import SummaryWriter
            self.writer = SummaryWriter(str(cfg.out))
            for note in trainer.notes:
                self.writer.add_text("notes", note, trainer.step_no)
        from tqdm.auto import tqdm
        self.bar = tqdm(total=cfg.steps, initial=trainer.step_no, desc="train", unit="step",
                        disable=not (cfg.progress and rank == 0))
        self.running, self.t0 = [], time.time()

    def step(self, m: dict) -> None:
        self.running.append(m)
        self.bar.update(1)

    def scalars(self, step: int, samples_per_step: int) -> None:
        """The mean of each metric since the last call, and the samples per second."""
        running = self.running
        mean = {k: float(np.mean([r[k] for r in running if k in r])) for k in running[-1]}
        for k, v in mean.items():
            self.writer.add_scalar(f"train/{k}", v, step)
        self.writer.add_scalar("train/samples_per_s", len(running) * samples_per_step / (time.time() - self.t0), step)
        self.bar.set_postfix(loss=f"{mean['loss']:.4f}", psnr=f"{mean.get('psnr', math.nan):.2f}")
        self.running, self.t0 = [], time.time()

    def validation(self, v: dict, step: int) -> None:
        for k in ("psnr", "ssim", "separation"):
            self.writer.add_scalar(f"val/{k}", v[k], step)

    def images(self, trainer: Trainer, step: int) -> None:
        """Image grid (I0, prediction, ground truth, I1), colour-coded flows and the visibility map."""
        writer, (b, out) = self.writer, trainer.last
        I0, I1, It = b["I0"][0], b["I1"][0], b["It"][0, 0]
        if "It" not in out:  # flow warm-up: the flow network's output beside its DIS target
            flows = [out["F01"][0], b["flows"][0, :2], out["F10"][0], b["flows"][0, 2:]]
            norm = max(float(f.detach().abs().max()) for f in flows) or 1.0
            writer.add_image("train/flows_F01_DIS_F10_DIS", torch.cat([_flow_image(f, norm) for f in flows], dim=2),
                             step)
            return
        pred = out["It"][0, 0].detach().float().clamp(0, 1).cpu()
        writer.add_image("train/I0_pred_gt_I1", torch.cat([I0, pred, It, I1], dim=2).clamp(0, 1), step)
        flows = [out["F01"][0], out["F10"][0], out["Ft0_refined"][0, 0], out["Ft1_refined"][0, 0]]
        norm = max(float(f.detach().abs().max()) for f in flows) or 1.0
        writer.add_image("train/flows_F01_F10_Ft0_Ft1", torch.cat([_flow_image(f, norm) for f in flows], dim=2), step)
        writer.add_image("train/visibility_Vt0", out["Vt0"][0, 0].detach().float().cpu().clamp(0, 1), step)

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()


def _flow_image(flow, max_norm: float):
    """(2,H,W) pixels (dx,dy) -> (3,H,W) float RGB in [0,1], colour-coded by `slomo.viz.flow_to_color`."""
    return torch.from_numpy(flow_to_color(flow.detach().float().cpu(), max_norm)).permute(2, 0, 1).float() / 255


# ---- the run folder -----------------------------------------------------------------------------
def _distributed():
    """(rank, world) from torchrun's environment; initialises the process group when world > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return rank, world


def _open_run_folder(cfg: TrainConfig, rank: int, world: int, resume: bool) -> None:
    """Check the run folder on every rank, before any of them writes; rank 0 then writes config.json."""
    out = Path(cfg.out)
    _check_run_folder(cfg)
    if world > 1:
        torch.distributed.barrier()
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        if (out / "state.pt").is_file() and resume:
            _check_same_run(cfg, out)
        with atomic_output(out / "config.json", overwrite=True) as tmp:
            tmp.write_text(json.dumps(cfg.to_dict(), indent=1))
    if world > 1:
        torch.distributed.barrier()


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
    if isinstance(saved.get("weights"), dict):  # loss terms added since then weigh 0 in that run
        saved["weights"] = {**{k: 0.0 for k in now["weights"]}, **saved["weights"]}
    defaults = {f.name: f.default for f in fields(TrainConfig) if not callable(f.default_factory)}
    if saved and saved != now:
        diff = sorted(k for k in now if (saved[k] != now[k] if k in saved else
                                         k not in defaults or defaults[k] != now[k]))
        if set(diff) - RESUMABLE:
            raise InputError(f"{out} holds a run with a different config ({', '.join(diff)}); use another out folder")
