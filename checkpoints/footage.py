"""Build the training footage cache and the dev triplets of `configs/dis-footage.toml`.

    OMP_NUM_THREADS=1 python checkpoints/footage.py [--root FOOTAGE] [--out runs]

FOOTAGE is a folder with `videos/` and `frames/` (the project's training footage; its README lists
sources and licences). Writes `runs/footage/` (`slomo.data.footage.build_footage_cache`: whole frames and
their DIS `fine` flow, with the mirrored pair's) and `runs/dev-triplets/` (frame-skipped triplets of
the dev sources, held out of training like every set of `make_table.py`). Resumes when killed.
"""
import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# every sequence of make_table.py, and the damaged tree.avi
TABLE_SETS = {"bedroom", "car_drift", "car_turn", "sintel", "vimeo_septuplets", "basketball_pass_50fps",
              "ucf101_small", "tree"}
# held out of training for validation during training: (source, gap, every k-th start, at most n)
DEV = [("videos/05_default_juggle.mp4", 1, 20, 6), ("videos/05_default_juggle.mp4", 2, 20, 6),
       ("videos/bikes.mp4", 1, 16, 6), ("videos/bikes.mp4", 2, 16, 6)]


def training_sources(root: Path) -> list:
    dev = {Path(d[0]).stem for d in DEV}
    held = TABLE_SETS | dev
    frames = sorted(p for p in (root / "frames").iterdir() if p.is_dir() and p.name not in held)
    videos = sorted(p for p in (root / "videos").iterdir() if p.is_file() and p.stem not in held)
    return frames + videos


def write_dev_triplets(root: Path, out: Path, max_side: int) -> Path:
    """Triplets <out>/<source>-g<gap>-<frame>/frame0,1,2.png (frames downscaled as the cache's)."""
    import cv2

    from slomo.data.footage import source_frames
    from slomo.files import atomic_output
    if out.is_dir():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out, directory=True) as tmp:
        for rel, gap, every, n in DEV:
            frames = source_frames(root / rel, max_side, 10_000)
            for i in list(range(0, len(frames) - 2 * gap, every))[:n]:
                d = tmp / f"{Path(rel).stem}-g{gap}-{i:04d}"
                d.mkdir(exist_ok=True)
                for k in range(3):
                    cv2.imwrite(str(d / f"frame{k}.png"), frames[i + k * gap][:, :, ::-1])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(REPO / "runs"))
    ap.add_argument("--limit", type=int, default=None, help="at most this many sources (a quick check)")
    args = ap.parse_args(argv)
    import cv2
    import torch

    from slomo.data.footage import FootageSpec, build_footage_cache
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    root, out = Path(args.root), Path(args.out)
    spec = FootageSpec()
    write_dev_triplets(root, out / "dev-triplets", spec.max_side)
    sources = training_sources(root)[:args.limit]
    print(f"{len(sources)} training sources: {', '.join(p.name for p in sources)}", flush=True)
    build_footage_cache(sources, out / "footage", spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
