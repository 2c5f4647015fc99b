"""ffmpeg in and out: probe a file, decode frames through a pipe, encode H.264 MP4, add audio.

    probe(path)        -> VideoInfo: size, exact frame rate (a Fraction), frame count, audio codec
    read_frames(path)  -> iterator of (H,W,3) uint8 RGB frames, decoded one at a time
    FrameWriter        -> H.264 MP4 (yuv420p, +faststart) from uint8 frames
    mux_audio          -> the audio of the input added (copied, or slowed with atempo)

The binary is imageio-ffmpeg's (`slomo.ffmpeg_binary`). Frames are (H,W,3) uint8 RGB here, as everywhere in
the video code; the model sees them as (B,3,H,W) float RGB in [0,1] (`slomo.video.interpolator`).
"""
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InputError, SlomoError, disk_full
from ..ffmpeg_binary import ffmpeg_exe

MP4_AUDIO = {"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"}  # codecs MP4 holds untouched
FPS_RANGE = (Fraction(1, 10000), Fraction(1_000_000))  # rates whose timestamps MP4 stores exactly
MAX_FRAMES = 2 ** 31 - 1  # frames an H.264 MP4 holds (the encoder counts them in 31 bits)
MADE_BY = "slomo convert"  # the output's `comment` tag: what --overwrite may replace
# ffmpeg lines that follow an error rather than say what it was
_ECHOES = re.compile(r"Last message repeated|Conversion failed|Task finished with error|Terminating thread|"
                     r"Error muxing a packet|Error closing file|Error opening output file|Error parsing options|"
                     r"Failed to set value|To ignore this, add|Output file is empty|Nothing was written")
_PREFIX = re.compile(r"^(\[[^\]]* @ 0x[0-9a-f]+\] ?)+")


def _popen(cmd, **kw):
    # own process group: Ctrl-C reaches Python only, which then stops ffmpeg itself
    return subprocess.Popen(cmd, stdin=kw.pop("stdin", subprocess.DEVNULL), start_new_session=True, **kw)


def last_line(text: str) -> str:
    """ffmpeg's last meaningful line: the last that is not an echo of an earlier error, its
    `[component @ 0x...]` prefix dropped."""
    lines = [_PREFIX.sub("", ln.strip()).strip() for ln in text.strip().splitlines()]
    lines = [ln for ln in lines if ln]
    meaningful = [ln for ln in lines if not _ECHOES.search(ln)] or lines
    return meaningful[-1][:200] if meaningful else "no message"


def ffmpeg_error(what: str, log: str, path) -> SlomoError:
    """The error for a failed ffmpeg run that wrote `path`: a full disk by name, else ffmpeg's cause."""
    if "No space left on device" in log or "Disk quota exceeded" in log:
        return disk_full(Path(path).parent)
    return SlomoError(f"{what}: {last_line(log)}")


# ---- frame rates -------------------------------------------------------------------------------
def snap_rate(x) -> Fraction:
    """A frame rate as an exact Fraction: 29.97 -> 30000/1001, 30.0 -> 30, 30.02 -> 1501/50."""
    x = Fraction(x)
    k = round(x * Fraction(1001, 1000))
    if k > 0 and abs(x - round(x)) > Fraction(6, 1000) and abs(x - Fraction(k * 1000, 1001)) < Fraction(6, 1000):
        return Fraction(k * 1000, 1001)
    if round(x) > 0 and abs(x - round(x)) < Fraction(6, 1000):
        return Fraction(round(x))
    return x.limit_denominator(1001) if x >= 1 else x.limit_denominator(1_000_000)  # 0.0001 fps stays > 0


def parse_fps(value) -> Fraction:
    """User frame rate: 60, "59.94" (-> 60000/1001), "30000/1001". InputError outside FPS_RANGE."""
    try:
        rate = Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        raise InputError(f"--fps must be a number such as 60, 59.94 or 30000/1001; got {value!r}") from None
    if rate <= 0:
        raise InputError(f"--fps must be greater than 0; got {value!r}")
    return check_rate(snap_rate(rate) if "/" not in str(value) else rate, "--fps")


def check_rate(rate: Fraction, what: str = "the frame rate") -> Fraction:
    """`rate` when an MP4 stores its timestamps exactly (FPS_RANGE, terms of 31 bits), else InputError."""
    lo, hi = FPS_RANGE
    if not lo <= rate <= hi or max(rate.numerator, rate.denominator) >= 2 ** 31:
        raise InputError(f"{what} must be between 1/{1 / lo} and {hi} frames per second (what an MP4 "
                         f"stores exactly), as a fraction of numbers below 2**31; got {rate}")
    return rate


def atempo_chain(tempo: float) -> list:
    """Split an audio speed factor into ffmpeg atempo factors, each within [0.5, 2]."""
    if not tempo > 0:
        raise ValueError(f"tempo must be > 0; got {tempo}")
    factors = []
    while tempo < 0.5:
        factors.append(0.5)
        tempo /= 0.5
    while tempo > 2.0:
        factors.append(2.0)
        tempo /= 2.0
    if abs(tempo - 1) > 1e-9 or not factors:
        factors.append(tempo)
    return factors


# ---- probe -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoInfo:
    """What ffmpeg says about a video file (one pass over its packets, no decoding)."""
    path: Path
    width: int               # decoded size, after the container's rotation is applied
    height: int
    fps: Fraction            # constant rate used for conversion (the average for variable-rate input)
    frames: int              # frame count the container claims (its packet count); may lie
    duration: float          # seconds, from the container header (0 if unknown)
    codec: str
    stream: int              # index of the video stream
    vfr: bool = False        # variable frame rate (timestamps not evenly spaced)
    fps_range: tuple = None  # (min, max) instantaneous fps when vfr
    audio_codec: str = None  # None: no audio stream
    audio_stream: int = None
    color_matrix: str = "bt601"  # bt709 when the stream says so
    sar: Fraction = None     # sample aspect ratio when not square (of the frames as decoded: rotated)
    others: tuple = ()       # the streams a conversion drops, e.g. ("audio #0:2 (mp3)", "subtitle #0:3 (subrip)")


_VIDEO = re.compile(r"Stream #0:(\d+)\S*: Video: (\w+)(.*)")
_AUDIO = re.compile(r"Stream #0:(\d+)\S*: Audio: (\w+)")
_STREAM = re.compile(r"Stream #0:(\d+)\S*: (\w+): (\w+)")
_SIZE = re.compile(r"(?<![\w.])([1-9]\d{0,4})x([1-9]\d{0,4})\b")


def _rate_field(line: str, name: str):
    m = re.search(r"([\d.]+)(k?) " + name + r"\b", line)
    if not m:
        return None
    value = float(m.group(1)) * (1000 if m.group(2) else 1)
    return snap_rate(value) if value > 0 else None


def probe(path) -> VideoInfo:
    """Read a video's header and packet timestamps with ffmpeg. Raises InputError for non-videos."""
    path = _readable(Path(path))
    head = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
                          capture_output=True, check=False).stderr.decode(errors="replace")
    v, audio = _streams(path, head)
    width, height, sar = _frame_size(path, v, head)
    kept = {v.group(1), audio.group(1) if audio else None}
    others = tuple(f"{m.group(2).lower()} #0:{m.group(1)} ({m.group(3)})"
                   for m in map(_STREAM.search, head.splitlines()) if m and m.group(1) not in kept)
    dur = re.search(r"Duration: (\d+):(\d+):([\d.]+)", head)
    duration = int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3)) if dur else 0.0
    tb, pts, packets = _packets(path, v.group(1))
    header_rate = _rate_field(v.group(3), "fps") or _rate_field(v.group(3), "tbr")
    fps, vfr, fps_range = _frame_rate(header_rate, tb, pts)
    if fps is None:
        raise InputError(f"{path.name}: cannot tell the frame rate; pass --fps")
    frames = packets or int(round(duration * fps))
    return VideoInfo(path=path, width=width, height=height, fps=fps, frames=frames, duration=duration,
                     codec=v.group(2), stream=int(v.group(1)), vfr=vfr, fps_range=fps_range,
                     audio_codec=audio.group(2) if audio else None,
                     audio_stream=int(audio.group(1)) if audio else None,
                     color_matrix="bt709" if "bt709" in v.group(3) else "bt601",
                     sar=sar if sar and sar != 1 else None, others=others)


def _readable(path: Path) -> Path:
    """`path`, or InputError when it is missing, not a file or not readable."""
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if not path.is_file():
        raise InputError(f"not a file: {path}")
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read {path} (permission denied)")
    return path


def _streams(path: Path, head: str) -> tuple:
    """(video stream match, audio stream match or None) from ffmpeg's description of the file."""
    videos = [m for m in map(_VIDEO.search, head.splitlines()) if m and "attached pic" not in m.group(3)]
    if "Input #0" not in head:
        raise InputError(f"{path.name}: not a video file ffmpeg can read ({last_line(head)})")
    if not videos:
        raise InputError(f"{path.name}: has no video stream")
    return videos[0], next((m for m in map(_AUDIO.search, head.splitlines()) if m), None)


def _frame_size(path: Path, v, head: str) -> tuple:
    """(width, height, sample aspect ratio or None) of the frames as decoded: after the rotation."""
    size = _SIZE.search(v.group(3))
    if not size:
        raise InputError(f"{path.name}: the video stream has no frame size ({v.group(2)})")
    width, height = int(size.group(1)), int(size.group(2))
    rot = re.search(r"rotation of (-?[\d.]+) degrees", head)
    turned = rot and round(abs(float(rot.group(1)))) % 180 == 90
    if turned:
        width, height = height, width
    sar = re.search(r"SAR (\d+):(\d+)", v.group(3))
    sar = Fraction(int(sar.group(1)), int(sar.group(2))) if sar and int(sar.group(1)) and int(sar.group(2)) else None
    if sar and turned:
        sar = 1 / sar  # a pixel twice as wide as tall is, turned a quarter, twice as tall as wide
    return width, height, sar


def _packets(path: Path, stream: str) -> tuple:
    """(time base, pts of the packets that hold a frame, packet count) of one stream, without decoding."""
    res = subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-map", f"0:{stream}",
                          "-c", "copy", "-f", "framecrc", "-"], capture_output=True, check=False)
    tb, pts, packets = None, [], 0
    for line in res.stdout.decode(errors="replace").splitlines():
        if line.startswith("#tb 0:"):
            tb = Fraction(line.split(":", 1)[1].strip())
        elif line and not line.startswith("#"):
            packets += 1
            parts = line.split(",")  # stream, dts, pts, duration, size, checksum
            # empty packets (AVI's "dropped" frames) repeat the previous frame: they decode to nothing
            if len(parts) >= 5 and parts[2].strip().lstrip("-").isdigit() and parts[4].strip() != "0":
                pts.append(int(parts[2]))
    return tb, pts, packets


def _frame_rate(header_rate, tb, pts) -> tuple:
    """(fps, vfr, fps_range): the header's rate unless the packet timestamps tell another, exactly."""
    fps, vfr, fps_range = header_rate, False, None
    ticks = np.unique(np.array(pts, dtype=np.int64))
    if tb and len(ticks) >= 3:
        # constant rate: nearly every frame lasts the median duration (give or take a tick of
        # rounding, as in Matroska's millisecond clock); a dropped frame here and there is allowed
        diffs = np.diff(ticks)
        med = float(np.median(diffs))
        regular = np.mean(np.abs(diffs - med) <= max(1.0, 0.02 * med)) >= 0.9
        ts_rate = Fraction(len(ticks) - 1) / (int(ticks[-1] - ticks[0]) * tb)
        med_rate = 1 / (Fraction(med) * tb)
        agree = header_rate is not None and abs(float(med_rate / header_rate) - 1) < max(0.005, 1.5 / med)
        if not regular:
            vfr, fps = True, snap_rate(ts_rate)
            fps_range = (float(1 / (int(diffs.max()) * tb)), float(1 / (int(diffs.min()) * tb)))
        elif not agree or header_rate.denominator not in (1, 1001):
            fps = snap_rate(ts_rate)  # the header rounds unusual rates to 2 decimals; timestamps do not
    return fps, vfr, fps_range


def count_frames(path) -> int:
    """Frames (distinct timestamps) in the first video stream of a file, from its packets."""
    res = subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0",
                          "-c", "copy", "-f", "framecrc", "-"], capture_output=True, check=False)
    pts = {ln.split(",")[2].strip() for ln in res.stdout.decode(errors="replace").splitlines()
           if ln and not ln.startswith("#") and ln.count(",") >= 4}
    return len(pts)


def made_by_slomo(path) -> bool:
    """True when `path` is a video that `slomo convert` wrote (its `comment` tag says so)."""
    try:
        head = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True,
                              check=False).stderr.decode(errors="replace")
    except OSError:
        return False
    return re.search(r"^\s*comment\s*:\s*" + re.escape(MADE_BY), head, re.MULTILINE) is not None


# ---- decoding ----------------------------------------------------------------------------------
class FrameReader:
    """Iterate over a video's frames as (H,W,3) uint8 RGB arrays; ffmpeg decodes in a subprocess.

    Every decoded frame comes out once (no frames dropped or repeated to fit a rate). After the
    iteration, `count` is the number of frames decoded and `log` holds ffmpeg's error messages.
    """

    def __init__(self, path, info: VideoInfo = None):
        self.info = info or probe(path)
        self.count, self.returncode, self.log = 0, None, ""
        self._proc = None

    def __iter__(self):
        info = self.info
        w, h = info.width, info.height
        cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(info.path), "-map", f"0:{info.stream}",
               "-an", "-sn", "-dn", "-fps_mode", "passthrough",
               "-vf", f"scale={w}:{h}:in_color_matrix={info.color_matrix},format=rgb24",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        nbytes = w * h * 3
        with tempfile.TemporaryFile() as err:
            self._proc = proc = _popen(cmd, stdout=subprocess.PIPE, stderr=err, bufsize=nbytes)
            try:
                while True:
                    buf = proc.stdout.read(nbytes)
                    if len(buf) < nbytes:
                        break
                    self.count += 1
                    yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
                self.returncode = proc.wait()
                err.seek(0)
                self.log = err.read().decode(errors="replace")
            finally:
                self.kill()
                proc.stdout.close()

    def kill(self):
        """Stop the decoder now (safe from any thread)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


def read_frames(path, info: VideoInfo = None):
    """Yield the frames of a video file as (H,W,3) uint8 RGB numpy arrays, one at a time."""
    yield from FrameReader(path, info)


# ---- encoding ----------------------------------------------------------------------------------
@dataclass
class AudioPlan:
    """Where the output's sound comes from and what happens to it."""
    source: Path
    stream: int
    mode: str             # "copy" (untouched), "aac" (re-encoded, same speed), "slow" (atempo, aac)
    tempo: float = 1.0    # audio speed factor for "slow"

    def args(self) -> list:
        if self.mode == "copy":
            return ["-c:a", "copy"]
        af = ["-af", ",".join(f"atempo={f:.10g}" for f in atempo_chain(self.tempo))] if self.mode == "slow" else []
        return af + ["-c:a", "aac", "-b:a", "160k"]


def mux_audio(video_path, plan: AudioPlan, duration: Fraction, path) -> None:
    """Copy the video stream of `video_path` and add the planned audio, cut to `duration` seconds
    (rounded up to ffmpeg's microsecond: no video frame is cut)."""
    micros = -(-Fraction(duration) * 1_000_000 // 1)
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(video_path), "-i", str(plan.source),
           "-map", "0:v:0", "-map", f"1:{plan.stream}", "-c:v", "copy", *plan.args(), "-t", f"{micros}us",
           "-metadata", f"comment={MADE_BY}", "-movflags", "+faststart", "-f", "mp4", str(path)]
    res = subprocess.run(cmd, capture_output=True, check=False)
    if res.returncode != 0:
        err = ffmpeg_error("ffmpeg could not add the audio", res.stderr.decode(errors="replace"), path)
        if type(err) is SlomoError:
            err = SlomoError(f"{err}; pass --no-audio to convert without sound")
        raise err


class FrameWriter:
    """Encode uint8 RGB frames to H.264 MP4 (yuv420p, +faststart) through an ffmpeg pipe.

    Odd widths or heights are padded to even by repeating the last column or row (yuv420p needs
    even sizes); nothing is scaled or cropped.
    """

    def __init__(self, path, width: int, height: int, fps: Fraction, color_matrix: str = "bt601",
                 sar: Fraction = None, crf: int = 18, preset: str = "fast"):
        self.width, self.height = width, height
        self.pad = (height % 2, width % 2)
        ew, eh = width + self.pad[1], height + self.pad[0]
        fps = Fraction(fps)
        tag = "bt709" if color_matrix == "bt709" else "smpte170m"
        vf = (f"scale=out_color_matrix={color_matrix}:out_range=tv,format=yuv420p,"
              f"setparams=colorspace={tag}:color_primaries={tag}:color_trc={tag}:range=tv")
        if sar:
            vf += f",setsar=sar={sar.numerator}/{sar.denominator}:max=65535"
        cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{ew}x{eh}",
               "-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "-"]
        cmd += ["-vf", vf, "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
                "-metadata", f"comment={MADE_BY}", "-movflags", "+faststart", "-f", "mp4", str(path)]
        self.path = Path(path)
        self._err = tempfile.TemporaryFile()
        self._proc = _popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._err)
        self.count = 0

    def _stderr(self) -> str:
        self._err.seek(0)
        return self._err.read().decode(errors="replace")

    def write(self, frame: np.ndarray) -> None:
        """Append one (H,W,3) uint8 RGB frame."""
        if self.pad != (0, 0):
            frame = np.pad(frame, ((0, self.pad[0]), (0, self.pad[1]), (0, 0)), mode="edge")
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data)
        except (BrokenPipeError, OSError, ValueError):
            self._proc.wait()
            raise ffmpeg_error("the ffmpeg encoder stopped", self._stderr(), self.path) from None
        self.count += 1

    def close(self) -> None:
        """Finish the file; raises SlomoError if ffmpeg failed."""
        try:
            self._proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        rc = self._proc.wait()
        log = self._stderr()
        self._err.close()
        if rc != 0:
            raise ffmpeg_error("the ffmpeg encoder failed", log, self.path)

    def abort(self) -> None:
        """Kill the encoder (the partial file is the caller's to remove)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        try:
            self._proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        self._err.close()
