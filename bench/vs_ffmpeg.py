"""`slomo convert` against ffmpeg's own motion-compensated interpolation (`minterpolate`), whole processes.

    python bench/vs_ffmpeg.py [--clip data/pancake-flip.mkv --scale 4 --rounds 3 --threads 1]

Each round runs, in rotating order: ffmpeg with the `minterpolate` filter (the options of slomo's
`memc` baseline: mci, aobmc, bidirectional, vsbmc) encoding H.264 like slomo does; `slomo convert`
with the shipped checkpoint; and `slomo convert --fast` (no mirror-image second pass). All three
make the same slow motion: the input's rate times `scale`, played at the input's rate, no sound.
Quality is a separate question: `slomo evaluate` scores `memc` against Super SloMo (docs/evaluation.md).
Appends a record to bench/results/vs_ffmpeg.json.
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def commands(clip: Path, scale: int, work: Path) -> dict:
    """The command of each side, writing into `work`."""
    from slomo.video import probe
    rate = probe(clip).fps
    mi = f"minterpolate=fps={rate * scale}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1:scd=none"
    slow = f"setpts={scale}*PTS,fps={rate}"  # play the new frames at the input's rate, as slomo's default does
    py = [sys.executable, "-m", "slomo", "convert", clip, "--scale", scale, "--no-audio", "--overwrite", "-q"]
    return {
        "ffmpeg minterpolate": [common.ffmpeg(), "-nostdin", "-v", "error", "-y", "-i", clip, "-an",
                                "-vf", f"{mi},{slow}", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                                "-movflags", "+faststart", work / "minterpolate.mp4"],
        "slomo convert": py + ["-o", work / "slomo.mp4"],
        "slomo convert --fast": py + ["--fast", "-o", work / "slomo-fast.mp4"],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", default=str(common.REPO / "data" / "pancake-flip.mkv"))
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3, help="rounds, rotating which process runs first")
    p.add_argument("--threads", default="1", help="OMP_NUM_THREADS for the slomo processes ('' = PyTorch default)")
    p.add_argument("--work", default=None, help="folder for the outputs (default: a temp folder)")
    args = p.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="slomo-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = Path(args.clip).resolve()
    cmds = commands(clip, args.scale, work)
    env = {"PYTHONPATH": str(common.REPO), **({"OMP_NUM_THREADS": args.threads} if args.threads else {})}
    names = list(cmds)
    order = [names[r % len(names):] + names[:r % len(names)] for r in range(args.rounds)]
    every = {name: [] for name in names}
    for turn in order:
        for name in turn:
            every[name].append(common.timed(cmds[name], env, cwd=work))
            print(name, every[name][-1], flush=True)
    runs = {name: {**min(rs, key=lambda r: r["wall_s"]), "walls": [r["wall_s"] for r in rs]}
            for name, rs in every.items()}
    frames = {name: len(common.decode(cmds[name][-1])) for name in names}  # each command's last word: its output
    ratio = {name: round(runs[name]["wall_s"] / runs["ffmpeg minterpolate"]["wall_s"], 2) for name in names}
    record = {"command": common.command_line(), "machine": common.machine(), "clip": clip.name,
              "scale": args.scale, "threads": args.threads or "default", "rounds": args.rounds, "order": order,
              "runs": runs, "frames_out": frames, "wall_ratio_to_minterpolate": ratio}
    print("frames", frames, "wall / minterpolate's", ratio)
    print("wrote", common.save_result("vs_ffmpeg", record))


if __name__ == "__main__":
    main()
