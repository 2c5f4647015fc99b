"""How much of the visibility measure is occlusion, and how much a classical cue knows of it.

    OMP_NUM_THREADS=1 PYTHONPATH=. python checkpoints/occlusion_cue.py [--root FOOTAGE] [--sets ...]
        [--cue consistency|oracle] [--true-flow]

Every map is scored at t = 0.5 with `slomo.metrics.visibility_separation`, the measure the model card
reports for the learned map (a flat map scores 0), over the warps of the paper's eq. 4 from DIS `fine`
flow (the front end's, no network).

- `--cue consistency` (the default): `slomo.occlusion.consistency_visibility`, forward-backward
  consistency of the two inputs' flow. A cue that scores well is a target the visibility head could be
  warmed up on.
- `--cue oracle`: `slomo.occlusion.true_visibility`, from the true middle frame It (which no
  interpolator has): which input sees each of its pixels. It also prints the share of the labelled
  pixels (where one warp is clearly closer) that are such occlusions; the rest are flow errors. With
  `--true-flow` the warps follow DIS flow from It itself, as a perfect flow refinement would.
"""
import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_table import SHARED, selected_sets  # noqa: E402

from slomo.flow import dis_flow  # noqa: E402
from slomo.losses import visibility_labels  # noqa: E402
from slomo.metrics import visibility_separation  # noqa: E402
from slomo.occlusion import consistency_visibility, teacher_flow, visibility_of  # noqa: E402
from slomo.synthesis import intermediate_flows  # noqa: E402
from slomo.warp import backward_warp  # noqa: E402


def oracle(I0, It, I1, true_flow: bool = False):
    """Vt0 (1,1,H,W) from It's occlusions (`slomo.occlusion.true_visibility`), the warps g0, g1 at
    t = 0.5 (eq. 4 from DIS between I0 and I1, or with `true_flow` along DIS flow from It) and the
    mask of pixels hidden in exactly one input."""
    teacher, seen = teacher_flow(I0, It, I1)  # DIS flow from It to each input, and where it comes back
    Ft0, Ft1 = teacher[:, :2], teacher[:, 2:]
    if not true_flow:
        F01, F10 = dis_flow(I0, I1, "fine")
        Ft0, Ft1 = intermediate_flows(F01, F10, torch.full((1, 1, 1, 1), 0.5))
    g0, g1 = backward_warp(I0, Ft0, "border"), backward_warp(I1, Ft1, "border")
    hidden0, hidden1 = ~seen[:, :1], ~seen[:, 1:]
    return visibility_of(hidden0, hidden1), g0, g1, hidden0 != hidden1


def labelled_share(mask, g0, g1, It) -> float:
    """Share of the labelled pixels (one warp closer by 20 grey levels) that `mask` covers."""
    trust0, trust1 = visibility_labels(g0, g1, It)
    labelled = trust0 | trust1
    return float((mask & labelled).sum()) / max(1, int(labelled.sum()))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=str(SHARED), help="footage folder holding triplets/ and frames/")
    p.add_argument("--sets", default="car_turn gap 2,bedroom gap 2,car_turn,bedroom")
    p.add_argument("--scale", type=float, default=1.0, help="pixels of round-trip error per logit unit")
    p.add_argument("--cue", choices=("consistency", "oracle"), default="consistency")
    p.add_argument("--true-flow", action="store_true", help="oracle: warp along the flow from the true frame")
    args = p.parse_args()
    for name, _, triplets in selected_sets(args.sets, Path(args.root)):
        seps, shares = [], []
        for _, I0, It, I1 in triplets:
            if args.cue == "oracle":
                Vt0, g0, g1, occluded = oracle(I0, It, I1, args.true_flow)
                shares.append(labelled_share(occluded, g0, g1, It))
            else:
                Vt0, g0, g1 = consistency_visibility(I0, I1, 0.5, args.scale)
            seps.append(float(visibility_separation(Vt0, g0, g1, It)[0]))
        seps = [s for s in seps if s == s]  # NaN: no labelled pixel
        share = f"; occlusions are {100 * sum(shares) / len(shares):.0f}% of the labelled pixels" if shares else ""
        print(f"{name}: separation {sum(seps) / max(1, len(seps)):.3f} over {len(seps)} triplets{share}")


if __name__ == "__main__":
    main()
