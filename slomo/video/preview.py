"""Copies of videos that every browser plays, for showing clips and results in notebooks.

    browser_video(path, out_dir) -> Path   # H.264/AAC MP4, yuv420p, even size, faststart
    trim_video(path, out_dir, seconds) -> Path   # the first seconds, for quick runs

Inputs are only read; each copy is written whole or not at all (files.atomic_output).
"""
import subprocess
from pathlib import Path

from ..files import atomic_output
from ..ffmpeg_binary import ffmpeg_exe
from .ffmpeg import ffmpeg_error, probe


def _h264_copy(path: Path, out: Path, seconds: float = None) -> Path:
    """Re-encode `path` as browser-friendly H.264/AAC MP4 at `out` (replacing an earlier copy)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out, overwrite=True) as tmp:
        cmd = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(path)]
        cmd += ["-t", f"{seconds:g}"] if seconds else []
        cmd += ["-map", "0:v:0", "-map", "0:a:0?", "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-c:v", "libx264",
                "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", "-c:a", "aac",
                "-movflags", "+faststart", "-f", "mp4", str(tmp)]
        res = subprocess.run(cmd, capture_output=True, check=False)
        if res.returncode != 0:
            raise ffmpeg_error(f"could not re-encode {path.name}", res.stderr.decode(errors="replace"), out)
    return out


def browser_video(path, out_dir=None) -> Path:
    """An H.264/AAC MP4 copy of a video that every browser plays (yuv420p, even size, faststart).

    Writes `<out_dir>/<stem>.preview.mp4` (default: beside the input) unless it is newer than the
    input already. The input is never touched.
    """
    path = Path(path)
    out = Path(out_dir if out_dir is not None else path.parent) / f"{path.stem}.preview.mp4"
    if out.is_file() and out.stat().st_mtime >= path.stat().st_mtime:
        return out
    return _h264_copy(path, out)


def trim_video(path, out_dir, seconds: float = 1.0) -> Path:
    """The first `seconds` of a video as `<out_dir>/<stem>-first<N>s.mp4` (for quick runs), where N is
    the length of the copy: `seconds`, or the whole clip's duration when it is shorter."""
    path = Path(path)
    length = min(float(seconds), probe(path).duration or float(seconds))
    return _h264_copy(path, Path(out_dir) / f"{path.stem}-first{length:.2g}s.mp4", seconds)
