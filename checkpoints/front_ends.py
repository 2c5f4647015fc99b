"""Which classical front end the `dis` checkpoint uses: PSNR at t = 0.5 of DIS flow interpolation
(`baselines.FlowInterp`, no network) for each DIS preset, with and without the mirror-image
ensemble, on the held-out sets of `make_table.py`; plus seconds of DIS per pair.

    OMP_NUM_THREADS=1 python checkpoints/front_ends.py [--sets a,b] [--json out.json]
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_table import selected_sets  # noqa: E402

VARIANTS = [("medium", False), ("fine", False), ("medium", True), ("fine", True)]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default=None, help="comma-separated subset of set names")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from slomo import metrics
    from slomo.baselines import FlowInterp
    names = [f"{p}{' + mirror' if m else ''}" for p, m in VARIANTS]
    print("| set | " + " | ".join(names) + " |", flush=True)
    rows = []
    for name, _, data in selected_sets(args.sets):
        row = {"set": name, "n": len(data)}
        for label, (preset, mirror) in zip(names, VARIANTS):
            method = FlowInterp(preset=preset, padding="border", flip_ensemble=mirror)
            t0 = time.time()
            ps = [float(metrics.psnr(method.interpolate(I0, I1, 0.5)[:, 0], It)) for _, I0, It, I1 in data]
            row[label] = {"psnr": float(np.mean(ps)), "seconds_per_pair": (time.time() - t0) / len(data)}
        rows.append(row)
        print(f"| {name} | " + " | ".join(f"{row[k]['psnr']:.2f}" for k in names), flush=True)
    means = {k: float(np.mean([r[k]["psnr"] for r in rows])) for k in names}
    print("| mean over sets | " + " | ".join(f"{means[k]:.2f}" for k in names))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "mean_psnr": means}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
