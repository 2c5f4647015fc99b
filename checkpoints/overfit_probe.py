"""Can the network fit visibility at all? Train the footage recipe on a few fixed crops and watch.

    OMP_NUM_THREADS=1 PYTHONPATH=. python checkpoints/overfit_probe.py [--config configs/dis-footage.toml]
        [--crops 32] [--steps 1000] [--every 100] [--scored 64] [key=value ...]

Draws `--crops` crops as training draws them (the config's data, crop size, hard crops, flips, time
reversal) and trains a fresh model of the config on only those, cycling through them in batches, for
`--steps` steps. Every `--every` steps it prints the mean training L1 and visibility BCE since the last
line, and the visibility separation on (up to `--scored` of) the fixed crops and on as many fresh crops
of the same data. If the separation climbs on the fixed crops and stays flat on fresh ones, the head
learns but memorises; if it stays flat on both, the head (or the gradient into it) is stuck.
Nothing is written (the run folder is a temporary one).
"""
import argparse
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "checkpoints"))

from crop_separation import crop_separation  # noqa: E402

from slomo.data.datasets import collate  # noqa: E402
from slomo.train.config import load_config  # noqa: E402
from slomo.train.trainer import Trainer  # noqa: E402


def fixed_batches(trainer: Trainer, n: int, seed: int) -> tuple:
    """(batches of `n` crops drawn with `seed`, the crops as items) from the trainer's data."""
    g = torch.Generator().manual_seed(seed)
    items = [trainer.data.get(int(torch.randint(0, len(trainer.data), (1,), generator=g)), g) for _ in range(n)]
    B = trainer.cfg.batch_size
    return [collate(items[i:i + B]) for i in range(0, n, B)], items


def probe(trainer: Trainer, crops: int, steps: int, every: int, seed: int = 321, scored: int = 64) -> list:
    """Rows (step, train L1, train BCE, separation on the first `scored` fixed crops, on as many fresh crops)."""
    batches, seen = fixed_batches(trainer, crops, seed)
    _, fresh = fixed_batches(trainer, min(crops, scored), seed + 1)
    seen = seen[:scored]
    trainer.batch = lambda step: batches[step % len(batches)]
    rows, l1, bce = [], [], []
    for step in range(1, steps + 1):
        _, m = trainer.step()
        l1.append(m.get("reconstruction", float("nan")))
        bce.append(m.get("visibility", float("nan")))
        if step % every == 0 or step == steps:
            trainer.model.eval()
            row = (step, sum(l1) / len(l1), sum(bce) / len(bce), crop_separation(trainer.model, seen)[0],
                   crop_separation(trainer.model, fresh)[0])
            rows.append(row)
            print("step {:5d}  train L1 {:.4f}  BCE {:.3f}  separation: fixed crops {:.3f}, fresh crops {:.3f}"
                  .format(*row), flush=True)
            l1, bce = [], []
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(REPO / "configs" / "dis-footage.toml"))
    p.add_argument("--crops", type=int, default=32)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--scored", type=int, default=64, help="crops of each kind scored for separation")
    p.add_argument("overrides", nargs="*", help="config overrides, key=value")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(args.config, [f"out={tmp}", "val=", "loader_threads=0", f"steps={args.steps}",
                                        *args.overrides])
        trainer = Trainer(cfg)
        try:
            print(f"precision {trainer.precision}, {args.crops} fixed crops of {cfg.crop} px, batch {cfg.batch_size}",
                  flush=True)
            probe(trainer, args.crops, args.steps, args.every, scored=args.scored)
        finally:
            trainer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
