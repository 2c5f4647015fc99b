"""Issue 6's GPU point: 7 intermediate frames of one 1280x720 pair, full-size model, on CUDA.

    python bench/cuda_speed.py [--size 1280x720] [--scale 8] [--repeats 20]

Everything runs in one process on one frame pair, after warm-up, timed with the GPU synchronised:
- `reference-style`: bench/reference_convert.py's plain loop (fp32, PyTorch defaults, one t per
  interpolation pass; the flow pass is shared by the t values, as in the reference's video script);
- `slomo` through `SuperSloMo.interpolate` at fp32, bf16 and fp16, with the cuDNN autotuner off
  (PyTorch's default, which slomo keeps: on the H200 the autotuner gained nothing) and on;
- bf16 (the autotuner still on) at 1080p and 4K (x8), and the shipped DIS checkpoint (DIS runs on the
  CPU) at the main size.
Each timing starts with the two frames on the GPU and ends with the intermediate frames on the GPU;
`with_copies` also uploads two uint8 frames and downloads the results as uint8.
It first checks the GPU against the CPU (warp properties, one fp32 model pass) and the reduced
precisions against fp32. Weights are random, full size, in the reference layout (common.py).
Appends a record to bench/results/cuda_speed.json.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import reference_convert  # noqa: E402

import slomo  # noqa: E402
from slomo import Padder, backward_warp  # noqa: E402
from slomo.cpu.memory import tune_for_conversion  # noqa: E402

FRAMES = common.REPO / "data" / "pancake-flip.mkv"  # real footage, 426x240; scaled up for bigger sizes


def real_pair(width, height, device):  # -> two (1,3,H,W) float RGB in [0,1] on device
    """Frames 20 and 21 of the bundled clip, resized to width x height (content only; speed does not
    depend on it, but agreement figures are more meaningful on real motion)."""
    import cv2
    cap = cv2.VideoCapture(str(FRAMES))
    frames = []
    while len(frames) < 22:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(bgr)
    if len(frames) < 22:  # no video backend: a smooth synthetic pair instead
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        a = np.stack([np.sin(x / 17), np.cos(y / 23), np.sin((x + y) / 31)], -1) * 0.4 + 0.5
        b = np.roll(a, 3, axis=1)
        return [torch.from_numpy(v).permute(2, 0, 1)[None].to(device) for v in (a, b)]
    out = []
    for bgr in frames[20:22]:
        rgb = cv2.cvtColor(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_CUBIC), cv2.COLOR_BGR2RGB)
        out.append(torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div(255).to(device))
    return out


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def gpu_times(fn, repeats, device, warmup=3) -> dict:
    """Seconds per call, GPU synchronised before and after each."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return {"median_s": round(statistics.median(times), 4), "min_s": round(min(times), 4),
            "max_s": round(max(times), 4), "repeats": repeats}


def peak_reset(device):
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak(device):  # MiB of GPU memory allocated at most since peak_reset
    return round(torch.cuda.max_memory_allocated() / 2**20) if device.type == "cuda" else None


def psnr(a, b) -> float:
    mse = float((a.float() - b.float()).pow(2).mean())
    return round(float(10 * np.log10(1 / mse)), 2) if mse > 0 else float("inf")


def checks(model_cpu, device) -> dict:
    """The GPU agrees with the CPU: warp properties, and one fp32 pass of the full model (TF32 off)."""
    out = {}
    img = torch.rand(2, 3, 37, 53, device=device)
    out["zero_flow_identity_max"] = float((backward_warp(img, torch.zeros(2, 2, 37, 53, device=device)) - img)
                                          .abs().max())
    shift = torch.zeros(2, 2, 37, 53, device=device)
    shift[:, 0] = 3  # sample 3 px to the right: equals rolling left, away from the border
    warped = backward_warp(img, shift)
    out["int_shift_roll_max"] = float((warped[..., :-3] - img.roll(-3, dims=-1)[..., :-3]).abs().max())
    torch.manual_seed(1)
    I0, I1 = torch.rand(1, 3, 101, 131), torch.rand(1, 3, 101, 131)
    ts = [0.25, 0.5, 0.75]
    ref = model_cpu.interpolate(I0, I1, ts, precision="fp32")
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        gpu = model_cpu.to(device).interpolate(I0.to(device), I1.to(device), ts, precision="fp32").cpu()
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
        model_cpu.to("cpu")
    out["model_fp32_gpu_vs_cpu_max"] = float((gpu - ref).abs().max())
    out["model_shape_odd_size"] = list(gpu.shape)
    return out


def time_reference(ckpt, I0, I1, ts, repeats, device, T):
    """The reference-style loop: its own U-Net and equations, weights from the same file. -> its frames."""
    H, W = I0.shape[-2:]
    fc, at = reference_convert.load_reference(ckpt)
    fc = {k: v.to(device) for k, v in fc.items()}
    at = {k: v.to(device) for k, v in at.items()}
    I0p, I1p = Padder(I0.shape).pad(I0, I1)
    T["reference-style fp32"] = gpu_times(lambda: reference_convert.interpolate_pair(fc, at, I0p, I1p, ts),
                                          repeats, device)
    print("reference-style", T["reference-style fp32"], flush=True)
    return torch.stack([f[0, :, :H, :W] for f in reference_convert.interpolate_pair(fc, at, I0p, I1p, ts)])


def time_precisions(model, I0, I1, ts, repeats, device, T) -> dict:
    """`interpolate` at fp32, bf16 and fp16, cuDNN autotuner off and on. -> each precision's frames."""
    H, W = I0.shape[-2:]
    outputs = {}
    for bench_mode in (False, True):
        torch.backends.cudnn.benchmark = bench_mode
        for prec in ("fp32", "bf16", "fp16"):
            name = f"slomo {prec}" + (" +cudnn.benchmark" if bench_mode else "")
            tune_for_conversion(model, prec, H, W)  # what `slomo convert` asks for
            peak_reset(device)
            T[name] = gpu_times(lambda: model.interpolate(I0, I1, ts, precision=prec), repeats, device)
            T[name]["peak_gpu_mib"] = peak(device)
            outputs[prec] = model.interpolate(I0, I1, ts, precision=prec)[0]
            print(name, T[name], flush=True)
    return outputs


def time_with_copies(model, I0, I1, ts, repeats, device, T) -> None:
    """With the copies a video needs: two uint8 frames up, the intermediate frames down as uint8."""
    u8 = [(x[0].permute(1, 2, 0) * 255).round().byte().cpu() for x in (I0, I1)]  # (H,W,3) uint8
    tune_for_conversion(model, "auto", *I0.shape[-2:])

    def with_copies():
        a, b = (torch.from_numpy(v.numpy()).to(device).permute(2, 0, 1)[None].float() / 255 for v in u8)
        frames = model.interpolate(a, b, ts)
        return (frames[0] * 255 + 0.5).clamp(0, 255).byte().permute(0, 2, 3, 1).cpu()
    T["slomo auto +cudnn.benchmark with_copies"] = gpu_times(with_copies, repeats, device)
    print("with copies", T["slomo auto +cudnn.benchmark with_copies"], flush=True)


def time_sizes(model, sizes, ts, repeats, device, T) -> None:
    """`interpolate` at other frame sizes ("1920x1080", ...), default precision."""
    for size in sizes:
        w, h = (int(v) for v in size.split("x"))
        a, b = real_pair(w, h, device)
        tune_for_conversion(model, "auto", h, w)
        peak_reset(device)
        name = f"slomo auto +cudnn.benchmark {size}"
        try:
            T[name] = gpu_times(lambda: model.interpolate(a, b, ts), max(3, repeats // 4), device, warmup=2)
            T[name]["peak_gpu_mib"] = peak(device)
        except torch.OutOfMemoryError as e:
            T[name] = {"error": str(e).splitlines()[0]}
        print(name, T[name], flush=True)
        a = b = None


def time_shipped(I0, I1, ts, device, T) -> None:
    """The shipped checkpoint: DIS front end on the CPU, network on the GPU; mirror ensemble and --fast."""
    shipped = slomo.load(None, device)
    tune_for_conversion(shipped, "auto", *I0.shape[-2:])
    for ensemble in (True, False):
        name = "shipped slomo-dis.pt auto" + (" (mirror ensemble)" if ensemble else " (--fast)")
        T[name] = gpu_times(lambda: shipped.interpolate(I0, I1, ts, ensemble=ensemble), 3, device, warmup=1)
        print(name, T[name], flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="1280x720")
    p.add_argument("--scale", type=int, default=8, help="intermediate frames = scale - 1")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--big", nargs="*", default=["1920x1080", "3840x2160"], help="other sizes (slomo only)")
    p.add_argument("--work", default=None)
    p.add_argument("--device", default="cuda", help="cuda; cpu only to try the script out at a small --size")
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("cuda_speed.py: no CUDA GPU here")
    cuda = device.type == "cuda"
    torch.set_grad_enabled(False)
    W, H = (int(v) for v in args.size.split("x"))
    ts = [k / args.scale for k in range(1, args.scale)]
    work = Path(args.work or tempfile.mkdtemp(prefix="slomo-cuda-"))
    ckpt = common.make_reference_weights(work / "SuperSloMo-random.ckpt")
    record = {"command": common.command_line(), "machine": common.machine(),
              "gpu": torch.cuda.get_device_name() if cuda else None, "cuda_version": torch.version.cuda,
              "cudnn": torch.backends.cudnn.version(), "tf32_conv_default": torch.backends.cudnn.allow_tf32,
              "size": args.size, "intermediate_frames": len(ts), "timings": {}}
    if cuda:
        record["checks"] = checks(slomo.load(ckpt, "cpu"), device)
        print("checks", record["checks"], flush=True)
    T = record["timings"]
    model = slomo.load(ckpt, device)
    I0, I1 = real_pair(W, H, device)
    ref_frames = time_reference(ckpt, I0, I1, ts, args.repeats, device, T)
    outputs = time_precisions(model, I0, I1, ts, args.repeats, device, T)
    time_with_copies(model, I0, I1, ts, args.repeats, device, T)
    record["agreement"] = {f"{k} vs reference-style fp32": {"psnr_db": psnr(v, ref_frames),
                                                           "max_abs": round(float((v - ref_frames).abs().max()), 4)}
                           for k, v in outputs.items()}
    print("agreement", record["agreement"], flush=True)
    time_sizes(model, args.big, ts, args.repeats, device, T)
    model = None
    if cuda:
        torch.cuda.empty_cache()
    time_shipped(I0, I1, ts, device, T)
    path = common.save_result("cuda_speed" if cuda else "cuda_speed_dry_run", record)
    best = min((v["median_s"], k) for k, v in T.items() if k.startswith("slomo ") and len(k.split()) <= 3)
    print(f"fastest slomo at {args.size}: {best[1]}, median {best[0]:.4f} s for {len(ts)} frames; "
          f"reference-style {T['reference-style fp32']['median_s']:.4f} s; wrote {path}")


if __name__ == "__main__":
    main()
