"""How responsive is the frame explorer? Seconds per picture at 854x480 (car_drift frames):
the first view of a pair (flow pass + interpolation) and moving t (cached flows, interpolation only).

    python bench/explorer_speed.py [--checkpoint PATH] [--threads N]
"""
import argparse
import glob
import statistics
import time
from pathlib import Path

import cv2
import torch

import slomo
from slomo import viz
from slomo.widgets import FrameExplorer

FRAMES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "frames" / "car_drift"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None, help="default: the shipped checkpoint")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--frames", default=str(FRAMES))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    files = sorted(glob.glob(str(Path(args.frames) / "*.jpg")))[:4]
    frames = [cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2RGB) for f in files]
    model = slomo.load(args.checkpoint)
    ex = FrameExplorer(model, frames)
    viz.encode(ex.render(0, 0.5))  # warm-up
    first, moves = [], []
    for pair in (1, 2):
        start = time.perf_counter()
        viz.encode(ex.render(pair, 0.5))
        first.append(time.perf_counter() - start)
        for t in (0.2, 0.35, 0.65, 0.8):
            start = time.perf_counter()
            viz.encode(ex.render(pair, t))
            moves.append(time.perf_counter() - start)
    H, W = frames[0].shape[:2]
    print(f"{W}x{H}, {model.config.flow} front end, width {model.config.width}, {args.threads} thread(s): "
          f"first view of a pair {statistics.median(first):.2f} s, moving t {statistics.median(moves):.2f} s "
          f"(median of {len(moves)}; range {min(moves):.2f}-{max(moves):.2f})")


if __name__ == "__main__":
    main()
