"""`convert`: streaming slow motion and frame-rate conversion of a video file, sound kept.

    convert(input, ...) -> ConvertResult: (N-1)*scale+1 frames, written atomically

The conversion is a pipeline: a thread decodes (ffmpeg -> queue), the calling thread schedules the
interpolation (here or in helper processes), a thread encodes (queue -> ffmpeg). Queues are
bounded, so memory does not grow with the video.
"""
import contextlib
import itertools
import math
import os
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..errors import InputError, SlomoError
from ..files import atomic_output, check_apart, check_replaceable, scratch
from ..methods import METHODS
from . import scenes
from .ffmpeg import (
    MAX_FRAMES,
    MP4_AUDIO,
    AudioPlan,
    FrameReader,
    FrameWriter,
    VideoInfo,
    check_rate,
    count_frames,
    last_line,
    made_by_slomo,
    mux_audio,
    parse_fps,
    probe,
)
from .helpers import HelperPool, helper_count
from .interpolator import FrameInterpolator, PairJob, load_method
from .schedule import FrameSink, WindowScheduler
from .threads import Prefetch, WriterThread

QUEUE_FRAMES = 8  # decoded frames buffered ahead of the model
WORKERS_PER_CORE = 4  # more helper processes than this cannot run side by side; they only take memory


def parse_scale(value) -> int:
    """The slow-motion factor: a whole number from 2 to MAX_FRAMES - 1 (what two frames become)."""
    if isinstance(value, bool):
        value = str(value)
    try:
        f = Fraction(str(value).strip())
    except (TypeError, ValueError, ZeroDivisionError):
        f = None
    if f is None or f.denominator != 1 or not 2 <= f < MAX_FRAMES:
        raise InputError(f"--scale must be a whole number from 2 to {MAX_FRAMES - 1} (an MP4 holds at most "
                         f"{MAX_FRAMES} frames); got {value!r}")
    return int(f)


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass
class ConvertOptions:
    """What a conversion is asked to do; validated on creation (InputError names the first bad value).

    scale:   integer >= 2; the output has (N-1)*scale+1 frames (every input frame kept)
    fps:     output rate (number, "59.94" or "30000/1001"); None: the input's, i.e. true slow motion
    checkpoint: the model's weights (None: the shipped ones; see `slomo.load`)
    method:  "superslomo" (the model), or a baseline: "flow", "memc", "blend", "duplicate"
    batch_size: frame pairs per model pass (None: 1 on CPU, more on GPU)
    device, precision: where and how the model computes ("auto": see `slomo.runtime`)
    audio:   keep the sound (copied when the duration is unchanged, else slowed with pitch kept)
    scene_threshold: cut score above which frames are duplicated, not morphed; 0 disables
    overwrite: replace an existing output that `convert` wrote (its `comment` tag); never another file
    progress: tqdm bar and notes on stderr (warnings are printed either way)
    workers: processes interpolating pairs side by side, one thread each (None: one per PyTorch
             thread for the model on CPU up to 720p, else 1: this process alone)
    fast:    skip the mirror-image second pass of a checkpoint with `flip_ensemble` (the shipped
             one): half the model passes, slightly lower quality (checkpoints/README.md)
    """
    scale: int = 2
    fps: Fraction = None
    checkpoint: object = None
    method: str = "superslomo"
    batch_size: int = None
    device: str = "auto"
    precision: str = "auto"
    audio: bool = True
    scene_threshold: float = scenes.DEFAULT_THRESHOLD
    overwrite: bool = False
    progress: bool = True
    workers: int = None
    fast: bool = False

    def __post_init__(self):
        self.scale = parse_scale(self.scale)
        self.fps = parse_fps(self.fps) if self.fps is not None else None
        try:
            threshold = float(self.scene_threshold)
        except (TypeError, ValueError, OverflowError):
            threshold = math.nan
        if not threshold >= 0:
            raise InputError(f"--scene-threshold must be a number >= 0; got {threshold}")
        self.scene_threshold = threshold
        if self.batch_size is not None and not (_whole(self.batch_size) and self.batch_size >= 1):
            raise InputError(f"--batch-size must be a whole number >= 1; got {self.batch_size!r}")
        most = WORKERS_PER_CORE * (os.cpu_count() or 1)
        if self.workers is not None and not (_whole(self.workers) and 1 <= self.workers <= most):
            raise InputError(f"--workers must be a whole number from 1 to {most} ({WORKERS_PER_CORE} per CPU core: "
                             f"each is a process with its own memory); got {self.workers!r}")
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")

    def pair_job(self, info: VideoInfo) -> PairJob:
        """What a helper process needs to interpolate this conversion's pairs."""
        return PairJob(self.method, self.checkpoint, self.precision, self.scale, info.height, info.width,
                       self.batch_size, self.fast)


@dataclass
class ConvertResult:
    """What `convert` wrote."""
    output: Path
    frames_in: int
    frames_out: int
    fps_in: Fraction
    fps_out: Fraction
    scale: int
    width: int
    height: int
    method: str
    audio: str = None        # None, "copied", "slowed" (pitch kept) or "re-encoded"
    cuts: int = 0            # pairs treated as scene cuts (frames duplicated)
    seconds: float = 0.0     # wall time
    messages: list = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Length of the output video in seconds."""
        return float(self.frames_out / self.fps_out)

    def __str__(self):
        audio = f", audio {self.audio}" if self.audio else ", no audio"
        return (f"{self.output}: {self.frames_in} -> {self.frames_out} frames at {_fmt_rate(self.fps_out)} fps "
                f"({self.duration:.2f} s{audio}) in {self.seconds:.1f} s")


def convert(input, output=None, *, scale=2, fps=None, checkpoint=None, method: str = "superslomo",
            batch_size: int = None, device="auto", precision: str = "auto", audio: bool = True,
            scene_threshold: float = scenes.DEFAULT_THRESHOLD, overwrite: bool = False,
            progress: bool = True, workers: int = None, fast: bool = False) -> ConvertResult:
    """Slow motion or frame-rate conversion of a video file, streamed with bounded memory.

    input:   any video ffmpeg reads (mp4, mkv, avi, ...; any audio codec)
    output:  .mp4 path; default `<input stem>-x<scale>.mp4` beside the input. Written to a hidden
             temporary file in the same folder and renamed at the end (never onto a file that appeared
             meanwhile); removed on error, Ctrl-C or kill. The sound failing fails the conversion.
    The other arguments are `ConvertOptions`' fields, described there.
    """
    start, say = time.time(), _Notes(progress)
    opts = ConvertOptions(scale=scale, fps=fps, checkpoint=checkpoint, method=method, batch_size=batch_size,
                          device=device, precision=precision, audio=audio, scene_threshold=scene_threshold,
                          overwrite=overwrite, progress=progress, workers=workers, fast=fast)
    input = Path(input).expanduser()
    if not input.exists():
        raise InputError(f"no such file: {input}")
    out = _output_path(input, output, opts.scale, opts.overwrite)
    info = probe(input)
    fps_out = _check_input(info, opts, say)
    interp_method = load_method(opts.method, opts.checkpoint, opts.device, opts.precision, opts.fast)
    plan = _audio_plan(info, fps_out, opts, say)
    job = opts.pair_job(info)
    interp = FrameInterpolator.for_job(job, interp_method)
    if interp.reduced:
        say(f"{info.width}x{info.height} is large: flow and visibility are computed at "
            f"{interp.model_size[1]}x{interp.model_size[0]}, warping and blending at full size")
    frames_out, cuts, reader = _interpolate_video(info, out, plan, fps_out, job, interp, opts)
    _warn_if_damaged(input.name, info, reader, say)
    if cuts:
        say(f"{cuts} scene cut{'s' if cuts > 1 else ''}: frames duplicated there instead of interpolated")
    audio_done = {None: None, "copy": "copied", "aac": "re-encoded", "slow": "slowed"}[plan and plan.mode]
    return ConvertResult(output=out, frames_in=reader.count, frames_out=frames_out, fps_in=info.fps,
                         fps_out=fps_out, scale=opts.scale, width=info.width, height=info.height,
                         method=opts.method, audio=audio_done, cuts=cuts, seconds=time.time() - start,
                         messages=say.messages)


class _Notes:
    """What a conversion tells its user: kept for `ConvertResult.messages` and written to stderr
    (notes when `progress`, warnings always)."""

    def __init__(self, progress: bool):
        self.messages, self.progress = [], progress

    def __call__(self, msg: str, warning: bool = False) -> None:
        self.messages.append(msg)
        if warning or self.progress:
            from tqdm import tqdm
            tqdm.write(f"slomo: {'warning: ' if warning else ''}{msg}", file=sys.stderr)


def _interpolate_video(info: VideoInfo, out: Path, plan, fps_out, job: PairJob, interp: FrameInterpolator,
                       opts: ConvertOptions) -> tuple:
    """Decode, interpolate and encode, helpers started first: (frames written, cuts, the reader)."""
    with HelperPool(job, interp, helper_count(interp, opts.workers)) as pool:
        reader = FrameReader(info.path, info)
        frames = Prefetch(reader, QUEUE_FRAMES, on_stop=reader.kill)
        try:
            frames_out, cuts = _write_output(iter(frames), reader, info, out, plan, fps_out, interp,
                                             pool.helpers, opts)
        finally:
            frames.stop()
    return frames_out, cuts, reader


def _write_output(frames, reader, info: VideoInfo, out: Path, plan, fps_out, interp: FrameInterpolator,
                  helpers: list, opts: ConvertOptions) -> tuple:
    """The output file, published whole or not at all: (frames written, cuts)."""
    first = _first_two(frames, reader, info)
    with contextlib.ExitStack() as temporaries:  # leaving it publishes the output; an error removes everything
        tmp = temporaries.enter_context(atomic_output(out, overwrite=made_by_slomo if opts.overwrite else False))
        video_tmp = temporaries.enter_context(scratch(out, "video")) if plan else tmp
        writer = WriterThread(FrameWriter(video_tmp, info.width, info.height, fps_out, info.color_matrix, info.sar),
                              maxsize=4)
        sink = FrameSink(writer, (max(info.frames, 2) - 1) * opts.scale + 1, opts.progress)
        scheduler = WindowScheduler(interp, helpers, sink, opts.scene_threshold)
        try:
            scheduler.run(itertools.chain(first, frames), info.frames)
            sink.finish()
        except BaseException:
            sink.abort()
            raise
        if plan:  # a failure here fails the conversion: no silent loss of the sound
            mux_audio(video_tmp, plan, Fraction(sink.count) / fps_out, tmp)
        _check_frames(tmp, sink.count, fps_out)
    return sink.count, scheduler.cuts


def _first_two(frames, reader, info: VideoInfo) -> list:
    """The first two frames; InputError (with ffmpeg's reason) when the input has fewer."""
    first = [f for _, f in zip(range(2), frames)]
    if len(first) < 2:
        for _ in frames:  # let the decoder finish to collect its messages
            pass
        why = f" ({last_line(reader.log)})" if reader.log.strip() else ""
        raise InputError(f"{info.path.name}: {'no' if not first else 'only one'} decodable video frame"
                         f"{'' if first else 's'}; need at least two{why}")
    return first


def _fmt_rate(r: Fraction) -> str:
    return str(r.numerator) if r.denominator == 1 else f"{r.numerator}/{r.denominator} (~{float(r):.3f})"


def _output_path(input: Path, output, scale: int, overwrite: bool) -> Path:
    out = Path(output) if output is not None else input.with_name(f"{input.stem}-x{scale}.mp4")
    out = out.expanduser()
    if out.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise InputError(f"the output is an H.264 MP4 file; give it a .mp4 name, not {out.name!r}")
    check_apart(out, [input])
    if out.is_dir():
        raise InputError(f"the output {out} is a folder")
    check_replaceable(out, overwrite, made_by_slomo, "slomo convert")
    if not out.parent.is_dir():
        raise InputError(f"the output folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write to the output folder {out.parent} (permission denied)")
    return out


def _audio_plan(info: VideoInfo, fps_out: Fraction, opts: ConvertOptions, say) -> AudioPlan:
    if not opts.audio or info.audio_codec is None:
        return None
    if fps_out != info.fps * opts.scale:
        tempo = float(fps_out / (info.fps * opts.scale))  # audio speed that keeps it in sync with the video
        return AudioPlan(info.path, info.audio_stream, "slow", tempo)
    if info.audio_codec in MP4_AUDIO:
        return AudioPlan(info.path, info.audio_stream, "copy")
    say(f"audio codec {info.audio_codec} cannot go into MP4 untouched; re-encoding it as AAC")
    return AudioPlan(info.path, info.audio_stream, "aac")


def _check_input(info: VideoInfo, opts: ConvertOptions, say) -> Fraction:
    """The output rate, after refusing what an MP4 cannot hold; notes the streams the output drops
    and a variable frame rate."""
    scale, frames = opts.scale, (max(info.frames, 2) - 1) * opts.scale + 1
    if frames > MAX_FRAMES:
        most = (MAX_FRAMES - 1) // max(info.frames - 1, 1)
        raise InputError(f"--scale {scale} would make {frames} frames of {info.path.name}'s {info.frames}, and an "
                         f"MP4 holds at most {MAX_FRAMES}; use --scale {most} or less")
    fps_out = opts.fps
    if fps_out is None:
        fps_out = check_rate(info.fps, f"{info.path.name}'s frame rate (give another with --fps)")
    if info.others:
        lost = any(s.startswith(("audio", "subtitle")) for s in info.others)
        say(f"{info.path.name}: the output keeps one video and one audio stream; dropped {', '.join(info.others)}",
            warning=lost)
    if info.vfr:
        lo, hi = info.fps_range
        say(f"{info.path.name} has a variable frame rate ({lo:.3g} to {hi:.3g} fps); "
            f"treating it as constant at its average, {_fmt_rate(info.fps)} fps", warning=True)
    return fps_out


def _check_frames(path: Path, frames: int, fps) -> None:
    """SlomoError unless the MP4 at `path` holds every one of the `frames` frames written."""
    got = count_frames(path)
    if got != frames:
        raise SlomoError(f"the encoded video holds {got} of the {frames} frames written (at {_fmt_rate(fps)} fps); "
                         f"nothing was saved")


def _warn_if_damaged(name: str, info: VideoInfo, reader, say) -> None:
    """A warning when the input lost frames or ffmpeg reported errors while decoding it."""
    n = reader.count
    why = f" ({last_line(reader.log)})" if reader.log.strip() else ""
    if reader.returncode or n < info.frames:
        say(f"{name} claims {info.frames} frames but only {n} decode (a damaged or truncated file, or "
            f"empty 'dropped' frames); converted those {n}{why}", warning=True)
    elif why:
        say(f"{name} is damaged: ffmpeg reported errors while decoding it{why}; its {n} frames were converted, "
            f"some possibly patched over", warning=True)
