"""Tiny synthetic clips (ffmpeg lavfi sources) and output inspection for the video tests."""
import subprocess
from fractions import Fraction

import numpy as np
import torch

from slomo import SuperSloMo
from slomo.ffmpeg_binary import ffmpeg_exe
from slomo.video import read_frames

AUDIO_CODECS = {"aac": ["-c:a", "aac"], "mp3": ["-c:a", "libmp3lame"], "opus": ["-c:a", "libopus"],
                "ac3": ["-c:a", "ac3"], "pcm": ["-c:a", "pcm_s16le"]}


def make_clip(path, frames=5, rate="30", size="64x48", audio="aac", source="testsrc", extra=()):
    """Write `frames` frames of an ffmpeg test source at `rate` (and a sine tone) to `path`."""
    duration = float(Fraction(frames) / Fraction(rate))
    sep = ":" if "=" in source else "="
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"{source}{sep}size={size}:rate={rate}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration:.4f}"]
    cmd += ["-frames:v", str(frames), *extra]
    if str(path).endswith(".avi"):
        cmd += ["-c:v", "mpeg4", "-q:v", "3"]
    else:
        cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p"] if _even(size) else ["-c:v", "ffv1"]
    if audio:
        cmd += AUDIO_CODECS[audio]
    subprocess.run([*cmd, str(path)], check=True)
    return path


def _even(size):
    w, h = map(int, size.split("x"))
    return w % 2 == 0 and h % 2 == 0


def stream_times(path, kind="v"):
    """(sorted pts in seconds as Fractions, end time in seconds) of the first `kind` stream, by packets."""
    res = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", f"0:{kind}:0", "-c", "copy",
                          "-f", "framecrc", "-"], capture_output=True, check=True)
    tb, rows = None, []
    for line in res.stdout.decode().splitlines():
        if line.startswith("#tb 0:"):
            tb = Fraction(line.split(":", 1)[1].strip())
        elif line and not line.startswith("#"):
            f = line.split(",")
            rows.append((int(f[2]), int(f[3])))
    rows.sort()
    pts = [p * tb for p, _ in rows]
    return pts, (rows[-1][0] + rows[-1][1]) * tb


def has_audio(path):
    res = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True)
    return "Audio:" in res.stderr.decode()


def frames_of(path):
    return np.stack(list(read_frames(path))).astype(np.float32)


def tiny_model(path):
    """A small untrained Super SloMo (DIS flow) whose refinement head starts at zero, saved to `path`."""
    torch.manual_seed(0)
    model = SuperSloMo(width=0.25, flow="dis", padding="border", leaky_head=False)
    head = [m for m in model.interp.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    return model.save(path)


def interrupted_convert(clip, sig, after: int = 5, env=None):
    """Run `slomo convert clip --method blend` in a fresh process that sends itself `sig` at its
    `after`-th pair (SIGINT as a terminal would, also when the suite runs in the background)."""
    import os
    import sys
    script = ("import signal, os, sys\n"
              "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
              "from slomo.video.interpolator import FrameInterpolator\n"
              "real = FrameInterpolator.__call__\n"
              "n = [0]\n"
              "def slow(self, a, b):\n"
              "    n[0] += 1\n"
              f"    if n[0] == {after}: os.kill(os.getpid(), {int(sig)})\n"
              "    return real(self, a, b)\n"
              "FrameInterpolator.__call__ = slow\n"
              "from slomo.cli import main\n"
              f"sys.exit(main(['convert', {str(clip)!r}, '--method', 'blend', '--quiet']))\n")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env or os.environ, timeout=120)
