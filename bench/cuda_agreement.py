"""Where GPU video output differs from the reference-style loop, and why (run on a CUDA machine).

    python bench/cuda_agreement.py CLIP [--pairs 4] [--scale 8]

For the first pairs of CLIP (decoded as `slomo convert` decodes it), the in-between frames as
uint8 from: the reference-style loop (bench/reference_convert.py) and slomo's video path
(`slomo.video.FrameInterpolator.interpolate_u8`, what `slomo convert` calls), each on the GPU with TF32
convolutions on (PyTorch's default) and off, and slomo on the CPU (fp32). Prints the largest and mean
|difference| in grey levels for each comparison. Weights: full-size random, reference layout.
Appends a record to bench/results/cuda_agreement.json.
"""
import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import reference_convert  # noqa: E402

import slomo  # noqa: E402
from slomo import Padder  # noqa: E402
from slomo.video import FrameInterpolator, PairJob  # noqa: E402
from slomo.video.ffmpeg import FrameReader, probe  # noqa: E402


def reference_u8(fc, at, window, ts, device):  # (P+1,H,W,3) uint8 -> (P,T,H,W,3) uint8
    H, W = window.shape[1:3]
    out = []
    for j in range(len(window) - 1):
        pair = [torch.from_numpy(window[i].copy()).to(device).permute(2, 0, 1)[None].float() / 255 for i in (j, j + 1)]
        I0, I1 = Padder((H, W)).pad(*pair)
        frames = reference_convert.interpolate_pair(fc, at, I0, I1, ts)
        out.append(np.stack([(f[0, :, :H, :W] * 255 + 0.5).clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy()
                             for f in frames]))
    return np.stack(out)


def diff(a, b) -> dict:
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return {"max": int(d.max()), "mean": round(float(d.mean()), 4), "share_nonzero": round(float((d > 0).mean()), 5)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip")
    p.add_argument("--pairs", type=int, default=4)
    p.add_argument("--scale", type=int, default=8)
    p.add_argument("--device", default="cuda")
    args = p.parse_args()
    torch.set_grad_enabled(False)
    device = torch.device(args.device)
    ckpt = common.make_reference_weights(Path(tempfile.mkdtemp()) / "SuperSloMo-random.ckpt")
    info = probe(args.clip)
    reader = FrameReader(args.clip, info)
    window = np.stack([f for _, f in zip(range(args.pairs + 1), reader)])  # (P+1,H,W,3) uint8
    reader.kill()
    ts = [k / args.scale for k in range(1, args.scale)]
    fc, at = reference_convert.load_reference(ckpt)
    fc, at = ({k: v.to(device) for k, v in sd.items()} for sd in (fc, at))
    job = PairJob("superslomo", str(ckpt), "fp32", args.scale, info.height, info.width, None)
    keep = list(range(args.pairs))
    out = {}
    for tf32 in (True, False):
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        tag = "tf32 on" if tf32 else "tf32 off"
        out[f"reference {tag}"] = reference_u8(fc, at, window, ts, device)
        interp = FrameInterpolator.for_job(job, slomo.load(ckpt, device))
        out[f"slomo {tag}"] = interp.interpolate_u8(window, keep)
        out[f"slomo one pair per call {tag}"] = np.concatenate([interp.interpolate_u8(window, [j]) for j in keep])
    cpu = FrameInterpolator.for_job(job, slomo.load(ckpt, "cpu"))
    out["slomo cpu"] = cpu.interpolate_u8(window, keep)
    names = list(out)
    table = {f"{a} vs {b}": diff(out[a], out[b]) for i, a in enumerate(names) for b in names[i + 1:]}
    for k, v in table.items():
        print(f"{k:55s} {v}")
    record = {"command": common.command_line(), "machine": common.machine(), "clip": Path(args.clip).name,
              "size": f"{info.width}x{info.height}", "pairs": args.pairs, "scale": args.scale, "diffs": table}
    print("wrote", common.save_result("cuda_agreement", record))


if __name__ == "__main__":
    main()
