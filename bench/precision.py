"""How far reduced-precision output is from fp32, on real frames.

Usage: python bench/precision.py [--checkpoint PATH] [--precision bf16] [--size 352x256]
Without --checkpoint it uses full-size reference-layout random weights (flows scaled to several pixels).
"""
import argparse
import time
from pathlib import Path

import cv2
import torch

import slomo
from slomo import SuperSloMo, runtime
from slomo.cpu.memory import tune_for_conversion

FRAMES = Path(__file__).resolve().parents[2] / "shared" / "data" / "frames" / "car_turn"


def load(path, size):  # -> (1,3,H,W) float RGB in [0,1]
    w, h = size
    bgr = cv2.imread(str(path))[:h, :w]
    return torch.from_numpy(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).permute(2, 0, 1)[None].float() / 255


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint")
    ap.add_argument("--precision", default="bf16")
    ap.add_argument("--size", default="352x256")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    if args.checkpoint:
        model = slomo.load(args.checkpoint, "cpu")
    else:
        torch.manual_seed(0)
        model = SuperSloMo().eval()
        with torch.no_grad():
            model.flow.conv3.weight.mul_(60.0)
            model.flow.conv3.bias.copy_(torch.tensor([4.0, 3.0, 3.5, 2.5]))
    I0, I1 = load(FRAMES / "00010.jpg", size), load(FRAMES / "00012.jpg", size)
    ts = [0.25, 0.5, 0.75]
    out = {}
    for prec in ("fp32", args.precision):
        tune_for_conversion(model, prec, size[1], size[0])  # the memory format `slomo convert` asks for
        start = time.perf_counter()
        out[prec] = model.interpolate(I0, I1, ts, precision=prec)
        print(f"{prec}: {time.perf_counter() - start:.2f} s for {len(ts)} frames at {size[0]}x{size[1]}")
    d = (out[args.precision] - out["fp32"]).abs()
    print(f"cpu_has_bf16={runtime.cpu_has_bf16()}  model={args.checkpoint or 'random full-size reference layout'}")
    print(f"{args.precision} vs fp32: max abs {d.max():.4f}, mean abs {d.mean():.5f} "
          f"(in [0,1]; {d.mean() * 255:.3f} grey levels), PSNR {10 * torch.log10(1 / d.pow(2).mean()):.1f} dB")


if __name__ == "__main__":
    main()
