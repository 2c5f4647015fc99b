"""How far the front end's intermediate flow is from the distillation teacher's, on training crops.

    OMP_NUM_THREADS=1 PYTHONPATH=. python checkpoints/teacher_gap.py runs/footage [--samples 24]

Draws samples as training does (`FootageDataset(teacher=True)`, 256 px crops, hard crops for half),
and compares Ft0 of the paper's eq. 4 from the cached DIS flow with the teacher's Ft0 (DIS `fine`
from the true middle frame), over the pixels the teacher trusts: |dx| + |dy| in pixels. As a scale
for noise it also compares two teachers, DIS `medium` and `fine`.
"""
import argparse

import torch

from slomo.data.footage import FootageDataset
from slomo.occlusion import teacher_flow
from slomo.synthesis import intermediate_flows


def summary(name, x):
    big = x > 2
    print(f"{name}: mean {x.mean():.2f} px, median {x.median():.2f} px, {100 * big.float().mean():.1f}% of "
          f"pixels over 2 px, carrying {100 * x[big].sum() / x.sum():.0f}% of the total")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("footage")
    p.add_argument("--samples", type=int, default=24)
    p.add_argument("--seed", type=int, default=123)
    p.add_argument("--crop", type=int, default=256)
    args = p.parse_args(argv)
    ds = FootageDataset(args.footage, crop=args.crop, teacher=True, hard_crops=4, hard_prob=0.5)
    g = torch.Generator().manual_seed(args.seed)
    front, teachers = [], []
    for _ in range(args.samples):
        s = ds.get(int(torch.randint(0, len(ds), (1,), generator=g)), g)
        Ft0, _ = intermediate_flows(s["flows"][None, :2], s["flows"][None, 2:], s["t"].view(1, 1, 1, 1))
        teacher, ok = s["teacher"][:, :2], s["teacher_ok"][:, 0]
        front.append((Ft0 - teacher).abs().sum(1)[ok])
        other, _ = teacher_flow(s["I0"][None], s["It"], s["I1"][None], "medium")
        teachers.append((other[:, :2] - teacher).abs().sum(1)[ok])
    summary("front end against the teacher", torch.cat(front))
    summary("teacher medium against fine", torch.cat(teachers))


if __name__ == "__main__":
    main()
