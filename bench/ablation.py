"""Which idea buys what: compute time of one frame pair (1 flow pass + scale-1 frames), per variant.

    python bench/ablation.py [--width 640 --height 352 --scale 4 --repeats 3]

One process, one thread, full-size reference-format model (random weights). Variants run
interleaved, `repeats` rounds; the figure is the smallest CPU time (process_time) per pair, which
is less disturbed than wall time when other jobs share the machine. Appends to
bench/results/ablation.json.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import reference_convert  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=352)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--work", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    import slomo
    from slomo.cpu import conv
    work = Path(args.work or tempfile.mkdtemp(prefix="slomo-bench-"))
    ckpt = common.make_reference_weights(work / "SuperSloMo-random.ckpt")
    model = slomo.load(ckpt, "cpu")
    fc, at = reference_convert.load_reference(ckpt)
    poly_min = conv.POLYPHASE_MIN_PIXELS
    g = torch.Generator().manual_seed(0)
    I0 = torch.rand(1, 3, args.height, args.width, generator=g)
    I1 = torch.roll(I0, (3, 5), (2, 3))
    ts = [k / args.scale for k in range(1, args.scale)]

    def slomo(use_nnpack, channels_last, max_batch, polyphase=True, direct=True):
        def run():
            conv.POLYPHASE_MIN_PIXELS = poly_min if polyphase else 1 << 62
            for m in model.modules():
                if isinstance(m, conv.Conv2d):
                    m.nnpack, m.nnpack_direct = use_nnpack, direct  # not direct: PyTorch's NNPACK call
            fmt = torch.channels_last if channels_last else torch.contiguous_format
            model.to(memory_format=fmt)
            a, b = I0.contiguous(memory_format=fmt), I1.contiguous(memory_format=fmt)
            return model.forward(a, b, ts, max_batch=max_batch, aux=False)["It"]
        return run

    variants = {
        "reference-style loop (fp32, NCHW, 1 t/pass)": lambda: reference_convert.interpolate_pair(fc, at, I0, I1, ts),
        "default kernels, 1 t/pass": slomo(False, False, 1),
        "default kernels, channels_last, 1 t/pass": slomo(False, True, 1),
        "default kernels, channels_last, all t in one pass": slomo(False, True, None),
        "NNPACK, all t in one pass": slomo(True, False, None),
        "NNPACK, 1 t/pass, decoder upsampling as before": slomo(True, False, 1, polyphase=False, direct=False),
        "NNPACK, 1 t/pass, polyphase decoder": slomo(True, False, 1, direct=False),
        "NNPACK called directly, polyphase decoder (what slomo uses)": slomo(True, False, 1),
    }
    best = {k: float("inf") for k in variants}
    wall = {k: float("inf") for k in variants}
    for r in range(args.repeats):
        for name, f in variants.items():
            c, w = time.process_time(), time.perf_counter()
            f()
            best[name] = min(best[name], time.process_time() - c)
            wall[name] = min(wall[name], time.perf_counter() - w)
        print(r, {k: round(v, 2) for k, v in best.items()}, common.load(), flush=True)
    base = best[next(iter(variants))]
    rows = [{"variant": k, "cpu_s_per_pair": round(v, 3), "wall_s_per_pair": round(wall[k], 3),
             "speedup_vs_reference": round(base / v, 3)} for k, v in best.items()]
    for row in rows:
        print(f"{row['variant']:<60} {row['cpu_s_per_pair']:7.2f} s  x{row['speedup_vs_reference']:.2f}")
    record = {"command": common.command_line(), "machine": common.machine(), "width": args.width,
              "height": args.height, "scale": args.scale, "threads": 1, "load_after": common.load(), "rows": rows}
    print("wrote", common.save_result("ablation", record))


if __name__ == "__main__":
    main()
