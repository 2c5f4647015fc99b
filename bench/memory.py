"""Issue 6's memory targets: peak RSS of whole `slomo convert` processes.

    python bench/memory.py [--cases 1080p_x8 4k_x2 flat_10s flat_60s]

  1080p_x8  1920x1080, x8, full-size reference-format model (2 input frames: the peak comes with the
            first pair; more frames only take longer)          target: under 4 GB
  4k_x2     3840x2160, x2, same model (convert runs the networks at reduced size above 1080p and
            warps at full size)                                 target: completes within 12 GB
  flat_10s, flat_60s   640x352 clips of 10 s and 60 s at x4 with the `flow` method (DIS): the
            pipeline's streaming decides whether the peak grows with length; the same pipeline
            feeds the model                                     target: equal peaks

Each case is a whole process (its own rusage, as /usr/bin/time -v reads it) with OMP_NUM_THREADS=1. Appends to bench/results/memory.json.
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

CASES = {  # name: (width, height, frames, scale, method, loop source)
    "1080p_x8": (1920, 1080, 2, 8, "superslomo", False),
    "4k_x2": (3840, 2160, 2, 2, "superslomo", False),
    "flat_10s": (640, 352, 300, 4, "flow", False),
    "flat_60s": (640, 352, 1800, 4, "flow", True),
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    p.add_argument("--work", default=None)
    args = p.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="slomo-bench-"))
    ckpt = common.make_reference_weights(work / "SuperSloMo-random.ckpt")
    results = {}
    for name in args.cases:
        w, h, n, scale, method, loop = CASES[name]
        clip = common.make_clip(work / f"clip_{w}x{h}_{n}.mp4", w, h, n, loop=loop)
        cmd = [sys.executable, "-m", "slomo", "convert", clip, "-o", work / f"{name}.mp4", "--scale", scale,
               "--method", method, "--scene-threshold", "0", "--no-audio", "--overwrite", "-q"]
        if method == "superslomo":
            cmd += ["--checkpoint", ckpt, "--precision", "fp32"]
        r = common.timed(cmd, {"OMP_NUM_THREADS": "1"}, cwd=work)
        r.update(width=w, height=h, frames_in=n, scale=scale, method=method)
        results[name] = r
        print(name, r, flush=True)
    record = {"command": common.command_line(), "machine": common.machine(), "cases": results}
    print("wrote", common.save_result("memory", record))


if __name__ == "__main__":
    main()
