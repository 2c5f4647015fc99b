"""What each CPU inference path of slomo.cpu buys, measured on its own (the figures of docs/cpu-speed.md).

    python bench/cpu_paths.py [--width 640 --height 352 --repeats 5]

One thread, no autograd, fp32, random full-size weights. Each figure is the smallest CPU time
(process_time) of `repeats` calls, which other jobs on the machine disturb less than wall time:
  layers:    U-Net convolutions at their map sizes for a width x height frame, with PyTorch's default
             kernel, NNPACK through PyTorch's call, and NNPACK called directly (kernel transform kept
             where `nnpack.keep_transform` keeps it)
  pooling:   `avg_pool2` against `F.avg_pool2d` on the first level's map
  decoder:   the two finest decoder levels, polyphase against upsample-then-convolve
  batching:  one frame pair at x4 (a flow pass, three interpolation passes) with one (pair, t) item
             per pass against all three t in one pass
  allocator: two whole processes of `interpolate` on three pairs, with and without
             `slomo.cpu.memory.keep_freed_memory()` (user and system seconds)
Appends to bench/results/cpu_paths.json.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

import slomo  # noqa: E402
from slomo.cpu import conv, nnpack  # noqa: E402

# (name, in channels, out channels, kernel, level) of the interpolation U-Net at full width
LAYERS = (("conv1 7x7", 20, 32, 7, 0), ("down1.conv1 5x5", 32, 64, 5, 1), ("down2.conv2 3x3", 128, 128, 3, 2),
          ("down4.conv2 3x3", 512, 512, 3, 4), ("down5.conv2 3x3", 512, 512, 3, 5), ("up5.conv2 3x3", 64, 32, 3, 0))


def best_cpu(fn, repeats: int) -> float:
    fn()  # warm-up: kernel transforms, allocations
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return round(best, 4)


def layers(H, W, repeats) -> list:
    rows = []
    for name, cin, cout, k, level in LAYERS:
        layer = conv.Conv2d(cin, cout, k, padding=k // 2).eval()
        x = torch.randn(1, cin, H >> level, W >> level)
        row = {"layer": name, "map": f"{W >> level}x{H >> level}"}
        for variant, flags in (("default", (False, True)), ("nnpack_pytorch_call", (True, False)),
                               ("nnpack_direct", (True, True))):
            layer.nnpack, layer.nnpack_direct = flags
            row[variant + "_s"] = best_cpu(lambda: layer(x), repeats)
        row["direct_vs_default"] = round(row["default_s"] / row["nnpack_direct_s"], 2)
        rows.append(row)
        print(row, flush=True)
    return rows


def pooling(H, W, repeats) -> dict:
    x = torch.randn(1, 32, H, W)
    row = {"map": f"32x{H}x{W}", "avg_pool2d_s": best_cpu(lambda: F.avg_pool2d(x, 2), repeats),
           "avg_pool2_s": best_cpu(lambda: conv.avg_pool2(x), repeats)}
    row["speedup"] = round(row["avg_pool2d_s"] / row["avg_pool2_s"], 2)
    print(row, flush=True)
    return row


def decoder(net, H, W, repeats) -> list:
    rows = []
    for name, up, level in (("up5", net.up5, 0), ("up4", net.up4, 1)):
        x = torch.randn(1, up.conv1.in_channels, H >> (level + 1), W >> (level + 1))
        skip = torch.randn(1, up.conv1.out_channels, H >> level, W >> level)
        row = {"level": name, "output": f"{W >> level}x{H >> level}"}
        saved = conv.POLYPHASE_MIN_PIXELS
        for variant, threshold in (("upsample_then_conv", 1 << 62), ("polyphase", 0)):
            conv.POLYPHASE_MIN_PIXELS = threshold
            row[variant + "_s"] = best_cpu(lambda: up(x, skip), repeats)
        conv.POLYPHASE_MIN_PIXELS = saved
        row["speedup"] = round(row["upsample_then_conv_s"] / row["polyphase_s"], 2)
        rows.append(row)
        print(row, flush=True)
    return rows


def batching(model, H, W, repeats) -> dict:
    I0 = torch.rand(1, 3, H, W)
    I1 = torch.roll(I0, (3, 5), (2, 3))
    ts = [0.25, 0.5, 0.75]
    row = {"pair": f"{W}x{H} x4", "one_item_per_pass_s": best_cpu(
        lambda: model.forward(I0, I1, ts, max_batch=1, aux=False), repeats),
        "all_t_in_one_pass_s": best_cpu(lambda: model.forward(I0, I1, ts, max_batch=None, aux=False), repeats)}
    print(row, flush=True)
    return row


def allocator(ckpt, H, W) -> dict:
    code = ("import sys, torch, slomo; from slomo.cpu import memory; torch.set_grad_enabled(False); "
            f"m = slomo.load(r'{ckpt}', 'cpu'); I0 = torch.rand(1, 3, {H}, {W}); "
            "memory.keep_freed_memory() if sys.argv[1] == 'keep' else None; "
            "[m.interpolate(I0, I0.roll(3, -1), [0.25, 0.5, 0.75]) for _ in range(3)]")
    env = {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(common.REPO)}
    out = {}
    for mode in ("default", "keep"):
        r = common.timed([sys.executable, "-c", code, mode], env)
        out[mode] = {k: r[k] for k in ("wall_s", "user_s", "sys_s", "peak_rss_mb")}
        print("allocator", mode, out[mode], flush=True)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=352)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--work", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    work = Path(args.work or tempfile.mkdtemp(prefix="slomo-bench-"))
    ckpt = common.make_reference_weights(work / "SuperSloMo-random.ckpt")
    model = slomo.load(ckpt, "cpu")
    H, W = slomo.Padder((args.height, args.width)).padded_size
    record = {"command": common.command_line(), "machine": common.machine(), "threads": 1,
              "nnpack_direct": nnpack.direct_available(), "width": args.width, "height": args.height,
              "layers": layers(H, W, args.repeats), "pooling": pooling(H, W, args.repeats),
              "decoder": decoder(model.interp, H, W, args.repeats),
              "batching": batching(model, args.height, args.width, max(1, args.repeats // 2)),
              "allocator": allocator(ckpt, args.height, args.width), "load_after": common.load()}
    print("wrote", common.save_result("cpu_paths", record))


if __name__ == "__main__":
    main()
