"""Helpers shared by the bench scripts: test clips, reference-format weights, timed processes."""
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SHARED = REPO.parent / "shared" / "data"
RESULTS = BENCH / "results"
BUNDLED_CLIP = REPO / "data" / "videos" / "dog.mp4"  # 640x360, 29.97 fps, 75 frames of the same footage
# 1280x720, 29.97 fps, real footage (data/README.md); the bundled 640x360 cut of it where that is absent
SOURCE_CLIP = SHARED / "videos" / "01_dog.mp4" if (SHARED / "videos" / "01_dog.mp4").is_file() else BUNDLED_CLIP


def ffmpeg() -> str:
    from slomo.ffmpeg_binary import ffmpeg_exe
    return ffmpeg_exe()


def make_clip(out: Path, width: int, height: int, frames: int, src: Path = SOURCE_CLIP, loop: bool = False) -> Path:
    """A test clip cut from real footage: scaled to cover width x height, centre-cropped, H.264."""
    out = Path(out)
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    vf = f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},setsar=1"
    cmd = [ffmpeg(), "-nostdin", "-v", "error", "-y"] + (["-stream_loop", "-1"] if loop else []) + \
          ["-i", str(src), "-vf", vf, "-frames:v", str(frames), "-an", "-c:v", "libx264", "-preset", "veryfast",
           "-crf", "16", "-pix_fmt", "yuv420p", str(out)]
    subprocess.run(cmd, check=True)
    return out


def make_reference_weights(path: Path, seed: int = 0) -> Path:
    """Full-size random weights in the reference `SuperSloMo.ckpt` layout. The flow head is scaled
    (as in tests/test_model.py) so the flows are a few pixels and every warp does real work."""
    import torch

    from slomo import SuperSloMo, write_reference_checkpoint
    path = Path(path)
    if path.is_file():
        return path
    torch.manual_seed(seed)
    m = SuperSloMo()
    with torch.no_grad():
        m.flow.conv3.weight.mul_(20.0)
        m.interp.conv3.weight.mul_(5.0)
    return write_reference_checkpoint(path, m.flow.state_dict(), m.interp.state_dict())


def load() -> str:
    """The machine's load averages, from uptime."""
    return os.getloadavg().__repr__()


def timed(cmd, env=None, cwd=None) -> dict:
    """Run a command as a whole process: wall, user, sys seconds, peak RSS (from the child's own
    rusage, as /usr/bin/time -v reports it)."""
    import tempfile
    full_env = {**os.environ, **(env or {})}
    before = os.getloadavg()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.time()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=err, env=full_env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.time() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed:\n{stderr[-2000:]}")
    return {"wall_s": round(wall, 2), "user_s": round(usage.ru_utime, 2), "sys_s": round(usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "load_before": [round(x, 2) for x in before], "load_after": [round(x, 2) for x in os.getloadavg()],
            "stdout_tail": stdout.strip()[-300:]}


def decode(path: Path) -> np.ndarray:
    """All frames of a video as (N,H,W,3) uint8 RGB."""
    info = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    w, h = map(int, re.search(r"Video: .*?(\d{2,5})x(\d{2,5})", info).groups())
    raw = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def compare(a: Path, b: Path) -> dict:
    """How closely two videos agree: frame counts, mean and max |difference| in 0-255 levels, PSNR."""
    A, B = decode(a), decode(b)
    out = {"frames_a": len(A), "frames_b": len(B)}
    if A.shape != B.shape:
        return out
    d = np.abs(A.astype(np.int16) - B.astype(np.int16))
    mse = float((d.astype(np.float64) ** 2).mean())
    out.update(mean_abs_diff=round(float(d.mean()), 4), max_abs_diff=int(d.max()),
               p99_abs_diff=int(np.percentile(d, 99)),
               psnr_db=round(10 * np.log10(255 ** 2 / mse), 2) if mse > 0 else float("inf"))
    return out


def machine() -> dict:
    import torch
    cpu = "unknown"
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.cuda.is_available(),
            **({"gpu": torch.cuda.get_device_name()} if torch.cuda.is_available() else {})}


def save_result(name: str, record: dict) -> Path:
    """Append a record to bench/results/<name>.json (a list, newest last)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    runs = json.loads(path.read_text()) if path.is_file() else []
    runs.append(record)
    from slomo.files import atomic_output
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(runs, indent=1) + "\n")
    return path


def command_line() -> str:
    return " ".join([Path(sys.executable).name] + [str(Path(sys.argv[0]).relative_to(REPO))
                                                   if Path(sys.argv[0]).is_absolute() else sys.argv[0]] + sys.argv[1:])
