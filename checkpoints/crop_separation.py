"""Visibility separation on training crops, beside the held-out figure: does the map learn on its own data?

    OMP_NUM_THREADS=1 PYTHONPATH=. python checkpoints/crop_separation.py runs/footage CKPT [CKPT ...]
        [--samples 48]

Draws crops as training does (`FootageDataset`, 256 px, hard crops for half, flips and time reversal,
each at its own t), runs each checkpoint on the cached flow (one pass, no mirror ensemble) and prints
`slomo.metrics.visibility_separation` of its Vt0 over its refined warps, averaged over the crops that
have labelled pixels of both kinds. The same seed gives every checkpoint the same crops.
"""
import argparse
import math

import torch

from slomo.data.footage import FootageDataset
from slomo.metrics import visibility_separation
from slomo.model import SuperSloMo


@torch.no_grad()
def crop_separation(model: SuperSloMo, samples: list) -> tuple:
    """(mean separation, crops counted) of `model` over FootageDataset items."""
    seps = []
    for s in samples:
        flows = (s["flows"][None, :2], s["flows"][None, 2:])
        out = model(s["I0"][None], s["I1"][None], s["t"].view(1, 1), flows=flows)
        sep = float(visibility_separation(out["Vt0"][:, 0], out["g0_refined"][:, 0], out["g1_refined"][:, 0],
                                          s["It"])[0])
        if not math.isnan(sep):
            seps.append(sep)
    return (sum(seps) / len(seps) if seps else float("nan")), len(seps)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("footage")
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--samples", type=int, default=48)
    p.add_argument("--seed", type=int, default=321)
    p.add_argument("--crop", type=int, default=256)
    args = p.parse_args(argv)
    ds = FootageDataset(args.footage, crop=args.crop, hard_crops=4, hard_prob=0.5)
    g = torch.Generator().manual_seed(args.seed)
    samples = [ds.get(int(torch.randint(0, len(ds), (1,), generator=g)), g) for _ in range(args.samples)]
    for path in args.checkpoints:
        model = SuperSloMo.from_checkpoint(path, device="cpu")
        step = model.metadata.get("step", "?")
        sep, n = crop_separation(model, samples)
        print(f"{path} (step {step}): separation {sep:.3f} over {n} training crops")


if __name__ == "__main__":
    main()
