"""Where the front end loses its dB: visibility or intermediate flow, and whether a classical fix helps.

    OMP_NUM_THREADS=1 PYTHONPATH=. python checkpoints/flow_headroom.py [--root FOOTAGE] [--sets ...]
        [--limit 6]

At t = 0.5, on held-out triplets (the sets of make_table.py), it scores:

- PSNR of the front end (eq. 4 from DIS `fine`, Vt0 = 0.5, one pass, no mirror ensemble);
- PSNR with an oracle visibility map over those warps (each pixel from whichever warp is closer to the
  true frame): the most a visibility head alone could add;
- PSNR along the teacher's flows (DIS from the true middle frame to each input, as
  `slomo.occlusion.teacher_flow`), with Vt0 = 0.5 and with `true_visibility`: what right intermediate
  flows would add;
- the mean error (px, over the pixels the teacher trusts) of three intermediate flows against the
  teacher's: eq. 4, the pair's flow forward-splatted to time t (`splatted_flows`), and DIS re-run from
  the front end's own estimate of the middle frame (`reestimated_flows`).

The true middle frame is an oracle no interpolator has: these are bounds and diagnoses, not methods.
"""
import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_table import SHARED, selected_sets  # noqa: E402

from slomo.flow import dis_flow  # noqa: E402
from slomo.metrics import psnr  # noqa: E402
from slomo.occlusion import teacher_flow, visibility_of  # noqa: E402
from slomo.synthesis import intermediate_flows  # noqa: E402
from slomo.warp import backward_warp  # noqa: E402


def forward_splat(values, flow, weight):
    """Bilinear forward splat: each pixel's weight * value carried to x + flow(x).

    values: (B,C,H,W); flow: (B,2,H,W) pixels (dx,dy); weight: (B,1,H,W) > 0
    returns the splatted sum of weight * values (B,C,H,W) and of weight (B,1,H,W)
    """
    B, C, H, W = values.shape
    ys = torch.arange(H, dtype=torch.float32, device=flow.device).view(1, H, 1)
    xs = torch.arange(W, dtype=torch.float32, device=flow.device).view(1, 1, W)
    tx, ty = xs + flow[:, 0], ys + flow[:, 1]
    num = values.new_zeros(B, C, H * W)
    den = values.new_zeros(B, 1, H * W)
    wv, w = (values * weight).flatten(2), weight.flatten(2)
    for cx in (tx.floor(), tx.floor() + 1):
        for cy in (ty.floor(), ty.floor() + 1):
            inside = (cx >= 0) & (cx < W) & (cy >= 0) & (cy < H)
            share = ((1 - (tx - cx).abs()) * (1 - (ty - cy).abs()) * inside).flatten(1).unsqueeze(1)
            idx = (cy.clamp(0, H - 1) * W + cx.clamp(0, W - 1)).long().flatten(1).unsqueeze(1)
            num.scatter_add_(2, idx.expand(-1, C, -1), wv * share)
            den.scatter_add_(2, idx, w * share)
    return num.view(B, C, H, W), den.view(B, 1, H, W)


def splatted_flows(I0, I1, F01, F10, t: float = 0.5, alpha: float = 20.0):
    """Intermediate flows by carrying each input's pixels to time t along its flow (I0's by t F01,
    I1's by (1-t) F10), where pixels that collide are weighed by exp(-alpha * brightness-constancy
    error), so the one that stays visible wins; eq. 4 where nothing lands.

    I0, I1: (B,3,H,W) float RGB in [0,1]; F01, F10: (B,2,H,W) pixels
    returns Ft0, Ft1: (B,2,H,W) pixels
    """
    e0 = (I0 - backward_warp(I1, F01, "border")).abs().mean(1, keepdim=True)
    e1 = (I1 - backward_warp(I0, F10, "border")).abs().mean(1, keepdim=True)
    n0, d0 = forward_splat(F01, t * F01, torch.exp(-alpha * e0))
    n1, d1 = forward_splat(F10, (1 - t) * F10, torch.exp(-alpha * e1))
    den = (d0 + d1).clamp_min(1e-8)
    landed = d0 + d1 > 1e-3
    Ft0_lin, Ft1_lin = intermediate_flows(F01, F10, torch.full((F01.shape[0], 1, 1, 1), float(t)))
    Ft0 = torch.where(landed, t * (n1 - n0) / den, Ft0_lin)  # a pixel of I0 is -t F01 from it, of I1 t F10
    Ft1 = torch.where(landed, (1 - t) * (n0 - n1) / den, Ft1_lin)
    return Ft0, Ft1


def reestimated_flows(I0, I1, F01, F10):
    """DIS `fine` from the front end's own middle frame (eq. 4 warps averaged, t = 0.5) to each input."""
    Ft0, Ft1 = intermediate_flows(F01, F10, torch.full((F01.shape[0], 1, 1, 1), 0.5))
    estimate = 0.5 * (backward_warp(I0, Ft0, "border") + backward_warp(I1, Ft1, "border"))
    return dis_flow(estimate.clamp(0, 1), I0, "fine")[0], dis_flow(estimate.clamp(0, 1), I1, "fine")[0]


def headroom(I0, It, I1) -> dict:
    """The scores of the module docstring for one triplet of (1,3,H,W) float RGB frames in [0,1]."""
    F01, F10 = dis_flow(I0, I1, "fine")
    Ft0, Ft1 = intermediate_flows(F01, F10, torch.full((1, 1, 1, 1), 0.5))
    teacher, seen = teacher_flow(I0, It, I1)

    def blend(Fa, Fb, V=0.5):
        g0, g1 = backward_warp(I0, Fa, "border"), backward_warp(I1, Fb, "border")
        if V is None:  # oracle: the closer warp
            V = ((g0 - It).abs().mean(1, keepdim=True) < (g1 - It).abs().mean(1, keepdim=True)).float()
        return float(psnr((V * g0 + (1 - V) * g1).clamp(0, 1).mul(255).round() / 255, It)[0])

    def error(F):
        ok = seen[:, :1]
        return float((F - teacher[:, :2]).norm(dim=1, keepdim=True)[ok].mean())

    T0, T1 = teacher[:, :2], teacher[:, 2:]
    return {"front end": blend(Ft0, Ft1), "+ oracle V": blend(Ft0, Ft1, None),
            "teacher flow": blend(T0, T1), "+ true V": blend(T0, T1, visibility_of(~seen[:, :1], ~seen[:, 1:])),
            "eq. 4 px": error(Ft0), "splatted px": error(splatted_flows(I0, I1, F01, F10)[0]),
            "re-estimated px": error(reestimated_flows(I0, I1, F01, F10)[0])}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=str(SHARED), help="footage folder holding triplets/ and frames/")
    p.add_argument("--sets", default="", help="comma-separated set names (default: all 10)")
    p.add_argument("--limit", type=int, default=6, help="triplets per set")
    args = p.parse_args(argv)
    for name, _, triplets in selected_sets(args.sets or None, Path(args.root)):
        rows = [headroom(I0, It, I1) for _, I0, It, I1 in triplets[:args.limit]]
        means = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
        print(f"{name} ({len(rows)}): " + ", ".join(f"{k} {v:.2f}" for k, v in means.items()), flush=True)


if __name__ == "__main__":
    main()
