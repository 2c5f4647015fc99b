"""Regenerate the results table of the model card: PSNR/SSIM at t = 0.5 of frame blending, DIS flow
interpolation and a checkpoint, on ucf101_small and on frame-skipped triplets of sequences that were
held out of training. Full frames, no cropping or resizing.

    OMP_NUM_THREADS=1 python checkpoints/make_table.py [checkpoint] [--json out.json]
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"

# (set name, kind, loader arguments): every sequence here was kept out of training
SETS = [
    ("ucf101_small", "UCF101 320x240", ("triplets", "triplets/ucf101_small")),
    ("vimeo_septuplets", "Vimeo-90K 448x256", ("septuplets", "frames/vimeo_septuplets")),
    ("basketball_pass", "HEVC 416x240, 50 fps", ("sequence", "frames/basketball_pass_50fps", 1, 6)),
    ("sintel", "Middlebury-like, rendered 1024x436", ("sequence", "frames/sintel", 1, 1)),
    ("car_drift", "DAVIS-like 854x480", ("sequence", "frames/car_drift", 1, 4)),
    ("car_turn", "DAVIS-like 854x480", ("sequence", "frames/car_turn", 1, 6)),
    ("bedroom", "DAVIS-like 960x540", ("sequence", "frames/bedroom", 1, 16)),
    ("car_drift gap 2", "large motion, 854x480", ("sequence", "frames/car_drift", 2, 4)),
    ("car_turn gap 2", "large motion, 854x480", ("sequence", "frames/car_turn", 2, 6)),
    ("bedroom gap 2", "large motion, 960x540", ("sequence", "frames/bedroom", 2, 16)),
]


def load_set(spec):
    from slomo.data import sequence_triplets
    from slomo.evaluate import load_dataset, load_image
    kind, rel = spec[0], SHARED / spec[1]
    if kind == "triplets":
        return [(s.name, load_image(s.first), load_image(s.targets[0][1]), load_image(s.last))
                for s in load_dataset(rel, "triplets").samples]
    if kind == "septuplets":
        out = []
        for d in sorted(p for p in rel.iterdir() if p.is_dir()):
            out += sequence_triplets(d, gap=1, every=2)
        return out
    return sequence_triplets(rel, gap=spec[2], every=spec[3])


def selected_sets(names: str = None):
    """(name, kind, triplets) for each set of SETS, or for those named (comma-separated)."""
    for name, kind, spec in SETS:
        if not names or name in names.split(","):
            yield name, kind, load_set(spec)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint", nargs="?", default=str(REPO / "checkpoints" / "slomo-dis.pt"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--sets", default=None, help="comma-separated subset of set names")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from slomo import metrics
    from slomo.baselines import Blend, FlowInterp
    from slomo.model import SuperSloMo
    model = SuperSloMo.from_checkpoint(args.checkpoint, device="cpu")
    methods = {"blend": Blend(), "DIS flow": FlowInterp(preset="medium", padding="border")}
    cfg = model.config
    if cfg.flow == "dis" and (cfg.dis_preset != "medium" or cfg.flip_ensemble):
        # the model's own classical front end without its network: what the learned part adds
        methods["same flow, no network"] = FlowInterp(preset=cfg.dis_preset, padding=cfg.padding,
                                                      flip_ensemble=cfg.flip_ensemble)
    methods["Super SloMo"] = model
    print("| set | kind | triplets | " + " | ".join(methods) + " |", flush=True)
    rows = []
    for name, kind, data in selected_sets(args.sets):
        res = {}
        for mname, m in methods.items():
            ps, ss = [], []
            t0 = time.time()
            for _, I0, It, I1 in data:
                with torch.no_grad():
                    pred = m.interpolate(I0, I1, 0.5, precision="fp32")[:, 0] if m is model else \
                        m.interpolate(I0, I1, 0.5)[:, 0]
                ps.append(float(metrics.psnr(pred, It)))
                ss.append(float(metrics.ssim(pred, It)))
            res[mname] = {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)), "seconds": time.time() - t0}
        rows.append({"set": name, "kind": kind, "n": len(data), "size": list(data[0][1].shape[-2:]), **res})
        r = rows[-1]
        print(f"| {name} | {kind} | {len(data)} | " + " | ".join(
            f"{r[k]['psnr']:.2f} / {r[k]['ssim']:.4f}" for k in methods), flush=True)
    means = {k: float(np.mean([r[k]["psnr"] for r in rows])) for k in methods}
    print("| mean over sets | | | " + " | ".join(f"{means[k]:.2f}" for k in methods))
    if args.json:
        Path(args.json).write_text(json.dumps({"checkpoint": args.checkpoint, "rows": rows, "mean_psnr": means}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
