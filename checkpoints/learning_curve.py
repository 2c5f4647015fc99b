"""The learning curve of a training run: validation PSNR (and the front end's), visibility separation,
the training loss terms since the previous validation, and training throughput against samples seen,
as a Markdown table and a PNG.

    python checkpoints/learning_curve.py runs/dis-footage [--png checkpoints/curve.png]

Reads the run's `state.pt` (its validation history) and tensorboard events (samples/s).
"""
import argparse
import glob
import struct
import sys
from pathlib import Path

import numpy as np
import torch


def scalars(run: Path, tag: str) -> list:
    """[(step, value)] of one tensorboard scalar in the run folder's event files."""
    from tensorboardX.proto import event_pb2
    out = []
    for path in sorted(glob.glob(str(run / "events.out.tfevents.*"))):
        with open(path, "rb") as f:
            while True:
                head = f.read(12)
                if len(head) < 12:
                    break
                data = f.read(struct.unpack("Q", head[:8])[0])
                f.read(4)
                event = event_pb2.Event()
                event.ParseFromString(data)
                out += [(event.step, v.simple_value) for v in event.summary.value if v.tag == tag]
    return sorted(dict(out).items())


def window_mean(values: list, after: int, upto: int) -> float:
    """Mean of the [(step, value)] logged in after < step <= upto; NaN when none was."""
    inside = [v for step, v in values if after < step <= upto]
    return float(np.mean(inside)) if inside else float("nan")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--png", default=None)
    args = ap.parse_args(argv)
    run = Path(args.run)
    if not (run / "state.pt").is_file():
        sys.exit(f"{run}: no state.pt (not a training run folder, or its first save is still to come)")
    state = torch.load(run / "state.pt", map_location="cpu", weights_only=True)
    batch = state["config"]["batch_size"]
    hist = state["history"]
    front = next((h["front_end_psnr"] for h in hist if "front_end_psnr" in h), None)
    speed = scalars(run, "train/samples_per_s")
    print(f"run {run}: step {state['step']}, {state['step'] * batch} samples; front end {front:.2f} dB" if front
          else f"run {run}: step {state['step']}")
    l1, bce = scalars(run, "train/reconstruction"), scalars(run, "train/visibility")
    print("| samples | val PSNR | vs front end | visibility separation | train L1 | train visibility BCE |\n"
          "|---|---|---|---|---|---|")
    previous = -1
    for h in hist:
        gain = f"{h['psnr'] - front:+.2f}" if front is not None else ""
        train = [window_mean(values, previous, h["step"]) for values in (l1, bce)]
        print(f"| {h['step'] * batch:,} | {h['psnr']:.2f} | {gain} | {h.get('separation', float('nan')):.3f} | "
              f"{train[0]:.4f} | {train[1]:.3f} |")
        previous = h["step"]
    if speed:
        v = np.array([s for _, s in speed])
        print(f"samples/s over {len(v)} logs: median {np.median(v):.2f}, 10-90% {np.percentile(v, 10):.2f}-"
              f"{np.percentile(v, 90):.2f}")
    if args.png:
        import matplotlib
        import matplotlib.ticker
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        x = [h["step"] * batch for h in hist]
        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
        a.plot(x, [h["psnr"] for h in hist], "o-", label="network")
        if front is not None:
            a.axhline(front, color="gray", ls="--", label="front end alone")
        a.set_xlabel("training samples seen")
        a.set_ylabel("dev PSNR (dB)")
        a.legend()
        b.plot(x, [h.get("separation", np.nan) for h in hist], "o-", color="C2")
        b.set_xlabel("training samples seen")
        b.set_ylabel("visibility separation")
        for axis in (a, b):
            axis.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:g}k"))
        fig.suptitle(f"{run.name}: validation on the dev triplets at t = 0.5")
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
