"""Issue 6's bench matrix: whole `slomo convert` processes across resolutions, scales, precisions,
memory layouts and batch sizes, each beside the plain reference-style loop on the same clip.

    python bench/matrix.py [--frames 2 --threads 1] [--cases 360p_x2 720p_x4 ...]

Every case converts a short clip cut from real footage with the full-size reference-format model
(random weights) and records wall time, output frames per second and peak RSS. The reference-style
loop (`reference_convert.py`: fp32, default kernels and layout, one pair and one t per pass) runs on
the same clip for the cases marked `ref`; 4K is not run through it (it would need ~20 GB).
Appends a record to bench/results/matrix.json.
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SIZES = {"360p": (640, 360), "720p": (1280, 720), "1080p": (1920, 1080), "4K": (3840, 2160)}


def cases() -> dict:
    """name: dict(size, scale, options, ref). The grid: every size at x2/x4/x8; at 360p also bf16
    (which runs channels_last) and larger batches. fp32 layouts and kernels: `ablation.py`."""
    out = {}
    for size in SIZES:
        for scale in (2, 4, 8):
            out[f"{size}_x{scale}"] = dict(size=size, scale=scale, opts=[], ref=size != "4K")
    out["360p_x4_bf16"] = dict(size="360p", scale=4, opts=["--precision", "bf16"], ref=False)
    out["360p_x4_batch2"] = dict(size="360p", scale=4, opts=["--batch-size", "2"], ref=False)
    out["360p_x4_batch4"] = dict(size="360p", scale=4, opts=["--batch-size", "4"], ref=False)
    return out


def main():
    all_cases = cases()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="+", default=list(all_cases), choices=list(all_cases))
    p.add_argument("--frames", type=int, default=2, help="input frames per clip")
    p.add_argument("--threads", default="1", help="OMP_NUM_THREADS for every process ('' = PyTorch default)")
    p.add_argument("--no-reference", action="store_true", help="skip the reference-style runs")
    p.add_argument("--work", default=None)
    p.add_argument("--device", default="cpu", help="every process runs on this device (cpu or cuda)")
    p.add_argument("--precision", default="fp32", help="slomo's precision where a case sets none")
    p.add_argument("--src", default=str(common.SOURCE_CLIP), help="footage the clips are cut from")
    args = p.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="slomo-bench-"))
    ckpt = common.make_reference_weights(work / "SuperSloMo-random.ckpt")
    env = {"OMP_NUM_THREADS": args.threads} if args.threads else {}
    results = {}
    for name in args.cases:
        c = all_cases[name]
        w, h = SIZES[c["size"]]
        clip = common.make_clip(work / f"clip_{w}x{h}_{args.frames}.mp4", w, h, args.frames, src=Path(args.src))
        frames_out = (args.frames - 1) * c["scale"] + 1
        row = {"size": c["size"], "width": w, "height": h, "scale": c["scale"], "options": " ".join(c["opts"]),
               "frames_in": args.frames, "frames_out": frames_out}
        cmd = [sys.executable, "-m", "slomo", "convert", clip, "-o", work / f"{name}.mp4", "--scale", c["scale"],
               "--checkpoint", ckpt, "--scene-threshold", "0", "--no-audio", "--overwrite", "-q", "--device", args.device] + c["opts"]
        if "--precision" not in c["opts"]:
            cmd += ["--precision", args.precision]
        row["slomo"] = common.timed(cmd, env, cwd=work)
        row["slomo"]["frames_per_s"] = round(frames_out / row["slomo"]["wall_s"], 3)
        if c["ref"] and not args.no_reference:
            ref_out = work / f"{name}.reference.mp4"
            row["reference"] = common.timed([sys.executable, common.BENCH / "reference_convert.py", clip, ref_out,
                                             "--checkpoint", ckpt, "--scale", c["scale"], "--device", args.device],
                                            env, cwd=work)
            row["reference"]["frames_per_s"] = round(frames_out / row["reference"]["wall_s"], 3)
            row["speedup_wall"] = round(row["reference"]["wall_s"] / row["slomo"]["wall_s"], 3)
            row["agreement"] = common.compare(ref_out, work / f"{name}.mp4")
        results[name] = row
        print(name, {k: v for k, v in row.items() if k not in ("slomo", "reference")},
              "slomo", row["slomo"]["wall_s"], "s", row["slomo"]["peak_rss_mb"], "MiB",
              "| ref", row.get("reference", {}).get("wall_s"), flush=True)
    record = {"command": common.command_line(), "machine": common.machine(), "threads": args.threads or "default",
              "device": args.device, "precision": args.precision, "cases": results}
    print("wrote", common.save_result("matrix", record))


if __name__ == "__main__":
    main()
