"""Rebuild the bundled teaching data in this folder from the original footage (see README.md).

    OMP_NUM_THREADS=1 python data/build_bundle.py --root FOOTAGE [--out data]

FOOTAGE is a folder holding the original files under `videos/`, `frames/` and `triplets/` (the names
README.md lists). Every output is written to a temporary name and renamed; existing outputs are
replaced. `data/pancake-flip.mkv` is not made here (it keeps its sound; README.md says how it was cut).
"""
import argparse
import shutil
import subprocess
import sys
from pathlib import Path

# (output, source video, first frame, frames, width, height)
CLIPS = [
    ("videos/dog.mp4", "videos/01_dog.mp4", 100, 75, 640, 360),
    ("videos/cups.mp4", "videos/02_cups.mp4", 60, 60, 426, 240),
    ("videos/blocks.mp4", "videos/03_blocks.mp4", 0, 60, 426, 240),
    ("videos/coffee.mp4", "videos/04_coffee.mp4", 0, 60, 426, 240),
]
# validation triplets from the dev sources (held out of training): (source, gap, every k-th start, at most n)
DEV = [("videos/05_default_juggle.mp4", 1, 20, 6), ("videos/05_default_juggle.mp4", 2, 20, 6),
       ("videos/bikes.mp4", 1, 16, 6), ("videos/bikes.mp4", 2, 16, 6)]
DEV_MAX_SIDE = 640
JPEG_QUALITY = 92
SEQUENCE = ("frames/basketball_pass_50fps", "frames/basketball", 33)  # copied as they are (JPEG)
UCF101 = ("triplets/ucf101_small", "triplets/ucf101")                  # copied as they are (PNG)


def _publish(tmp: Path, out: Path) -> None:
    if out.is_dir():
        shutil.rmtree(out)
    elif out.exists():
        out.unlink()
    tmp.replace(out)


def cut_clip(root: Path, out: Path, src: str, first: int, frames: int, width: int, height: int) -> None:
    """Frames [first, first + frames) of a video, area-scaled, as silent H.264 (CRF 20)."""
    import imageio_ffmpeg
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    vf = (f"trim=start_frame={first}:end_frame={first + frames},setpts=PTS-STARTPTS,"
          f"scale={width}:{height}:flags=area")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(root / src), "-vf", vf,
                    "-an", "-c:v", "libx264", "-preset", "slow", "-crf", "20", "-pix_fmt", "yuv420p",
                    "-movflags", "+faststart", str(tmp)], check=True)
    _publish(tmp, out)


def dev_triplets(root: Path, out: Path) -> int:
    """<out>/gap<g>/<source>-<frame>/frame0,1,2.jpg; triplets across a scene cut are left out."""
    import cv2

    from slomo.data.footage import source_frames
    from slomo.video.scenes import DEFAULT_THRESHOLD, cut_score, thumbnail
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    count = 0
    for rel, gap, every, n in DEV:
        frames = source_frames(root / rel, DEV_MAX_SIDE, 10_000)
        name = Path(rel).stem.split("_")[-1]  # 05_default_juggle -> juggle
        kept = 0
        for i in range(0, len(frames) - 2 * gap, every):
            trip = [frames[i + k * gap] for k in range(3)]
            thumbs = [thumbnail(f) for f in trip]
            if any(cut_score(a, b) > DEFAULT_THRESHOLD for a, b in zip(thumbs, thumbs[1:])):
                continue
            d = tmp / f"gap{gap}" / f"{name}-{i:04d}"
            d.mkdir(parents=True)
            for k, f in enumerate(trip):
                cv2.imwrite(str(d / f"frame{k}.jpg"), f[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            kept += 1
            if kept == n:
                break
        count += kept
    _publish(tmp, out)
    return count


def copy_tree(src: Path, out: Path, limit: int = None) -> int:
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    items = sorted(src.iterdir())[:limit]
    for p in items:
        if p.is_dir():
            shutil.copytree(p, tmp / p.name)
        else:
            shutil.copyfile(p, tmp / p.name)
    _publish(tmp, out)
    return len(items)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, help="folder with the original videos/, frames/, triplets/")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent))
    args = ap.parse_args(argv)
    root, out = Path(args.root), Path(args.out)
    for dest, src, first, frames, w, h in CLIPS:
        cut_clip(root, out / dest, src, first, frames, w, h)
        print(f"{dest}: frames {first}-{first + frames - 1} of {src}, {w}x{h}")
    print(f"triplets/dev: {dev_triplets(root, out / 'triplets' / 'dev')} triplets")
    src, dest, n = SEQUENCE
    print(f"{dest}: {copy_tree(root / src, out / dest, n)} frames")
    print(f"{UCF101[1]}: {copy_tree(root / UCF101[0], out / UCF101[1])} triplets")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {total / 1e6:.1f} MB in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
