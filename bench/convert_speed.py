"""Issue 6's speed target: `slomo convert` against the plain reference-style conversion.

    python bench/convert_speed.py [--width 640 --height 352 --frames 8 --scale 4 --threads 1]

Both run as whole processes (start-up, decoding, compute, encoding), one after the other, on the
same clip with the same full-size reference-format weights (random, written with
slomo.write_reference_checkpoint). Then the two output videos are compared frame by frame.
With --rounds N the pair runs N times, alternating which goes first; the speed-up compares each
side's fastest round (all wall times are recorded). With --ab DIR a third process runs in every
round: `slomo convert` from the slomo tree at DIR (another commit, say), so that two versions'
ratios come from the same rounds; its output is compared with this tree's too.
Appends a record to bench/results/convert_speed.json.
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def processes(args, clip, ckpt, ref_out, new_out, ab_out):
    """The command and environment of each side: the reference-style loop, this tree's `slomo convert`
    and, with --ab, the other tree's."""
    env = {"OMP_NUM_THREADS": args.threads} if args.threads else {}
    py = sys.executable

    def slomo_convert(out):
        return [py, "-m", "slomo", "convert", clip, "-o", out, "--scale", args.scale, "--checkpoint", ckpt,
                "--precision", args.precision, "--device", args.device, "--scene-threshold", "0", "--no-audio",
                "--overwrite", "-q"]
    commands = {
        "reference": [py, common.BENCH / "reference_convert.py", clip, ref_out, "--checkpoint", ckpt,
                      "--scale", args.scale, "--device", args.device],
        "slomo": slomo_convert(new_out),
    }
    envs = {"reference": env, "slomo": {**env, "PYTHONPATH": str(common.REPO)}}  # this tree's slomo
    if args.ab:
        commands["slomo-ab"] = slomo_convert(ab_out)
        envs["slomo-ab"] = {**env, "PYTHONPATH": str(Path(args.ab).resolve())}
    return commands, envs


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=352)
    p.add_argument("--frames", type=int, default=8, help="input frames (keep short: the machine is shared)")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--threads", default="1", help="OMP_NUM_THREADS for both processes ('' = PyTorch default)")
    p.add_argument("--work", default=None, help="folder for clips and weights (default: a temp folder)")
    p.add_argument("--rounds", type=int, default=1, help="rounds, alternating which process runs first")
    p.add_argument("--device", default="cpu", help="both processes run on this device (cpu or cuda)")
    p.add_argument("--precision", default="fp32", help="slomo's precision (the reference is always fp32)")
    p.add_argument("--src", default=str(common.SOURCE_CLIP), help="footage the clip is cut from")
    p.add_argument("--ab", metavar="DIR", help="also time `slomo convert` from the slomo tree at DIR")
    p.add_argument("--floor", action="store_true",
                   help="also time `slomo convert --method duplicate`: the same decoding and encoding, no model")
    args = p.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="slomo-bench-"))
    clip = common.make_clip(work / f"clip_{args.width}x{args.height}_{args.frames}.mp4",
                            args.width, args.height, args.frames, src=Path(args.src))
    ckpt = common.make_reference_weights(work / "SuperSloMo-random.ckpt")
    ref_out, new_out, ab_out = work / "reference.mp4", work / "slomo.mp4", work / "slomo-ab.mp4"
    commands, envs = processes(args, clip, ckpt, ref_out, new_out, ab_out)
    floor = {}
    if args.floor:  # once, before the rounds
        floor = common.timed([sys.executable, "-m", "slomo", "convert", clip, "-o", work / "duplicate.mp4",
                              "--scale", args.scale, "--method", "duplicate", "--no-audio", "--overwrite", "-q"],
                             envs["slomo"], cwd=work)
        print("duplicate (I/O floor)", floor, flush=True)
    # rounds rotate the order (reference first, then slomo first, ...): a process that follows a long
    # busy one can run slower, which would favour whichever goes first
    names = list(commands)
    order = [tuple(names[r % len(names):] + names[:r % len(names)]) for r in range(args.rounds)]
    every = {name: [] for name in names}
    for turn in order:
        for name in turn:
            every[name].append(common.timed(commands[name], envs[name], cwd=work))
            print(name, every[name][-1], flush=True)
    runs = {name: {**min(rs, key=lambda r: r["wall_s"]), "walls": [r["wall_s"] for r in rs]}
            for name, rs in every.items()}  # each side's fastest round, and all of its wall times
    agree = common.compare(ref_out, new_out)
    speedup = {k: round(runs["reference"][k] / runs["slomo"][k], 3) for k in ("wall_s", "user_s")}
    ab = {}
    if args.ab:
        ab = {"tree": str(Path(args.ab).resolve()), "agreement_with_slomo": common.compare(new_out, ab_out),
              "speedup": {k: round(runs["reference"][k] / runs["slomo-ab"][k], 3) for k in ("wall_s", "user_s")},
              "per_round_wall_ratio": {name: [round(r / s, 3) for r, s in zip(runs["reference"]["walls"],
                                                                               runs[name]["walls"])]
                                       for name in ("slomo", "slomo-ab")}}
        print("ab", ab)
    record = {"command": common.command_line(), "machine": common.machine(), "clip": clip.name,
              "width": args.width, "height": args.height, "frames_in": args.frames, "scale": args.scale,
              "threads": args.threads or "default", "device": args.device, "precision": args.precision,
              "rounds": args.rounds, "order": order, "runs": runs, "speedup": speedup, "agreement": agree,
              **({"duplicate_floor": floor} if floor else {}), **({"ab": ab} if ab else {})}
    print("speedup", speedup, "agreement", agree)
    print("wrote", common.save_result("convert_speed", record))


if __name__ == "__main__":
    main()
