"""How much a classical occlusion cue knows: forward-backward flow consistency as a visibility map.

    OMP_NUM_THREADS=1 PYTHONPATH=. python checkpoints/occlusion_cue.py [--root FOOTAGE] [--sets ...]

For each triplet at t = 0.5: DIS `fine` flow both ways, the intermediate flows and warps of the paper
(no network), and the round-trip error of each input's flow, |F01 + F10(x + F01)| and the same for
F10, carried to time t along Ft0 and Ft1. Vt0 = sigmoid((e0 - e1) / scale): where the pixel that Ft0
finds in I0 does not come back from I1, it is hidden in I1, so trust I0. Scored with `slomo.metrics.visibility_separation`, the measure the model
card reports for the learned map (a flat map scores 0). A cue that scores well here is a target the
visibility head could be warmed up on.
"""
import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_table import SHARED, selected_sets  # noqa: E402

from slomo.flow import dis_flow  # noqa: E402
from slomo.metrics import visibility_separation  # noqa: E402
from slomo.synthesis import intermediate_flows  # noqa: E402
from slomo.warp import backward_warp  # noqa: E402


def consistency_visibility(I0, I1, scale: float = 1.0, preset: str = "fine"):
    """I0, I1: (1,3,H,W) float RGB in [0,1] -> Vt0 (1,1,H,W) in [0,1] at t = 0.5, and the warps g0, g1."""
    F01, F10 = dis_flow(I0, I1, preset)
    t = torch.full((1, 1, 1, 1), 0.5)
    Ft0, Ft1 = intermediate_flows(F01, F10, t)
    e0 = (F01 + backward_warp(F10, F01, "border")).norm(dim=1, keepdim=True)  # (1,1,H,W) pixels, I0's frame
    e1 = (F10 + backward_warp(F01, F10, "border")).norm(dim=1, keepdim=True)  # I1's frame
    e0t, e1t = backward_warp(e0, Ft0, "border"), backward_warp(e1, Ft1, "border")
    g0, g1 = backward_warp(I0, Ft0, "border"), backward_warp(I1, Ft1, "border")
    return torch.sigmoid((e0t - e1t) / scale), g0, g1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=str(SHARED), help="footage folder holding triplets/ and frames/")
    p.add_argument("--sets", default="car_turn gap 2,bedroom gap 2,car_turn,bedroom")
    p.add_argument("--scale", type=float, default=1.0, help="pixels of round-trip error per logit unit")
    args = p.parse_args()
    for name, _, triplets in selected_sets(args.sets, Path(args.root)):
        seps = []
        for _, I0, It, I1 in triplets:
            Vt0, g0, g1 = consistency_visibility(I0, I1, args.scale)
            seps.append(float(visibility_separation(Vt0, g0, g1, It)[0]))
        seps = [s for s in seps if s == s]  # NaN: no labelled pixel
        print(f"{name}: separation {sum(seps) / max(1, len(seps)):.3f} over {len(seps)} triplets")


if __name__ == "__main__":
    main()
