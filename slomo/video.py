"""`convert`: streaming slow motion and frame-rate conversion of a video file, sound kept.

    convert(input, ...) -> ConvertResult: (N-1)*scale+1 frames, written atomically

The conversion is a pipeline: a thread decodes (ffmpeg -> queue), the calling thread interpolates,
a thread encodes (queue -> ffmpeg). Queues are bounded, so memory does not grow with the video.
The model sees (B,3,H,W) float RGB in [0,1]; uint8 HWC frames stay in this module and videoio.py.
`probe` and `read_frames` (from videoio) are available here too.
"""
import contextlib
import copy
import itertools
import math
import os
import queue
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from . import runtime, scenes
from . import workers as helper_processes
from .cpu.conv import prefers_single_items
from .cpu.memory import tune_for_conversion
from .errors import InputError, SlomoError
from .files import atomic_output, check_apart, check_replaceable, scratch
from .methods import METHODS
from .synthesis import fuse
from .videoio import (
    MAX_FRAMES,
    MP4_AUDIO,
    AudioPlan,
    FrameReader,
    FrameWriter,
    VideoInfo,
    _last_line,
    check_rate,
    count_frames,
    made_by_slomo,
    mux_audio,
    parse_fps,
    probe,
    read_frames,
)
from .warp import backward_warp
from .workers import Helper, PairJob, interpolate_u8, share_times, single_thread

__all__ = ["convert", "ConvertResult", "probe", "read_frames", "METHODS"]  # probe, read_frames: videoio's

MODEL_PIXELS = 1920 * 1088  # above this the model runs at reduced resolution (4K would need ~10 GB/item)
ITEM_PIXELS = 2_200_000  # pixels x (pair, t) items per interpolation-network pass (~2.5 GB on CPU fp32)
QUEUE_FRAMES = 8  # decoded frames buffered ahead of the model
HELPER_PIXELS = (256 * 256, 1280 * 736)  # helper processes (one per extra core) from about 256x256, where
# the model's time outweighs a helper's start-up, up to 720p, above which memory comes first
TIME_CHUNK_PIXELS = 128_000_000  # (frame, pixel) pairs made at once, at most 1024 frames: a pair whose
MAX_TIMES = 1024  # in-between frames exceed that (a huge --scale) is made a chunk of times at a time
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


class TimeGrid:
    """The times t = k/scale of a pair's in-between frames (k in a range), made as they are asked
    for: a list of them would take the machine's memory for a huge scale."""

    def __init__(self, scale: int, ks: range = None):
        self.scale, self.ks = scale, range(1, scale) if ks is None else ks

    def __len__(self):
        return len(self.ks)

    def __getitem__(self, i):
        return TimeGrid(self.scale, self.ks[i]) if isinstance(i, slice) else self.ks[i] / self.scale

    def __iter__(self):
        return (k / self.scale for k in self.ks)

    def chunks(self, n: int):
        """The grid in consecutive pieces of at most n times."""
        return (self[s:s + n] for s in range(0, len(self), n))


# ---- threads around the pipes ------------------------------------------------------------------
_END = object()


class _Prefetch:
    """Run an iterable in a thread, buffered in a bounded queue; exceptions are re-raised on get."""

    def __init__(self, iterable, maxsize: int, on_stop=None):
        self._q = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._on_stop = on_stop
        self._thread = threading.Thread(target=self._run, args=(iterable,), daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def _run(self, iterable):
        it = iter(iterable)
        try:
            for item in it:
                if not self._put(item):
                    break
            self._put(_END)
        except BaseException as e:  # handed to the consumer
            self._put(e)
        finally:
            close = getattr(it, "close", None)
            if close:
                close()

    def __iter__(self):
        while True:
            item = self._q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def stop(self):
        self._stop.set()
        if self._on_stop:
            self._on_stop()
        self._thread.join(timeout=10)


class _WriterThread:
    """Feed a FrameWriter from a bounded queue in a thread, so encoding overlaps with compute."""

    def __init__(self, writer: FrameWriter, maxsize: int):
        self.writer, self.error = writer, None
        self._q = queue.Queue(maxsize)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            while True:
                batch = self._q.get()
                if batch is _END:
                    return
                for frame in batch:
                    self.writer.write(frame)
        except BaseException as e:
            self.error = e

    def put(self, frames) -> None:
        """Queue a list (or (N,H,W,3) array) of uint8 frames; raises if the encoder has failed."""
        while True:
            if self.error is not None:
                raise self.error
            try:
                self._q.put(frames, timeout=0.1)
                return
            except queue.Full:
                pass

    def finish(self) -> None:
        self.put(_END)
        self._thread.join()
        if self.error is not None:
            raise self.error
        self.writer.close()

    def abort(self) -> None:
        self.writer.abort()
        try:
            self._q.put_nowait(_END)  # wake the thread if it waits for frames
        except queue.Full:
            pass  # it is writing, and the killed encoder makes that fail
        self._thread.join(timeout=10)


# ---- interpolation -----------------------------------------------------------------------------
def _ceil32(n: int) -> int:
    return -(-n // 32) * 32


class _Interpolator:
    """In-between frames for a batch of pairs, with memory bounded by the frame size.

    Super SloMo runs at full resolution up to MODEL_PIXELS (1920x1088). Above that (4K) the
    flows and visibility maps are computed on a downscaled pair, upsampled, and the full-resolution
    frames are warped and blended with them (`backward_warp` and `fuse` from the synthesis module).
    """

    def __init__(self, method, name: str, scale: int, height: int, width: int, precision: str,
                 batch_size: int = None):
        self.method, self.name, self.precision = method, name, precision
        self.ts = TimeGrid(scale)
        self.T = len(self.ts)
        self.chunk = max(1, min(MAX_TIMES, TIME_CHUNK_PIXELS // (height * width)))  # times per call
        self.chunked = self.T > self.chunk  # then a window is one pair, made a chunk of times at a time
        self.size = (height, width)
        self.model_size = (height, width)
        px = _ceil32(height) * _ceil32(width)
        if name == "superslomo" and px > MODEL_PIXELS:
            f = math.sqrt(px / MODEL_PIXELS)
            self.model_size = (max(32, int(height / f)), max(32, int(width / f)))
        mpx = _ceil32(self.model_size[0]) * _ceil32(self.model_size[1])
        self.max_batch = max(1, ITEM_PIXELS // mpx)
        device = getattr(method, "device", torch.device("cpu"))
        if batch_size is None:  # measured on a 2-core CPU: one pair per pass is fastest there
            batch_size = 1 if device.type == "cpu" else max(1, min(8, self.max_batch // self.T))
        fits = TIME_CHUNK_PIXELS // (min(self.T, self.chunk) * height * width)  # pairs whose frames fit
        self.batch_size = 1 if self.chunked else max(1, min(int(batch_size), fits))
        if name == "superslomo":
            tune_for_conversion(method, precision, *self.model_size)  # opt-in memory settings

    @property
    def reduced(self) -> bool:
        return self.model_size != self.size

    def prepare(self) -> None:
        """Compute now the model's NNPACK kernel transforms for this frame size (`SuperSloMo.precompute_kernels`):
        called before helpers are forked, so that they share them instead of each computing its own."""
        if self.name == "superslomo":
            self.method.precompute_kernels(*self.model_size)

    def with_times(self, ts) -> "_Interpolator":
        """The same interpolator for other times t (a share of a pair's in-between frames)."""
        other = copy.copy(self)
        other.ts, other.T = ts, len(ts)
        return other

    def __call__(self, I0, I1):
        """I0, I1: (B,3,H,W) float RGB in [0,1] -> (B,T,3,H,W) float RGB in [0,1]."""
        ts = list(self.ts)  # at most `chunk` times
        if self.name != "superslomo":
            return self.method.interpolate(I0, I1, ts)
        if not self.reduced:
            return self.method.interpolate(I0, I1, ts, precision=self.precision, max_batch=self.max_batch)
        return self._reduced(I0, I1, ts)

    def _reduced(self, I0, I1, ts):
        model = self.method
        B, T, (H, W), (h, w) = I0.shape[0], len(ts), self.size, self.model_size
        small = [F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
                 for x in (I0, I1)]
        _, aux = model.interpolate(*small, ts, return_aux=True, precision=self.precision,
                                   max_batch=self.max_batch, ensemble=False)  # flows and Vt0 only
        device, pad = model.device, model.config.padding
        gain = torch.tensor([W / w, H / h], device=device).view(1, 2, 1, 1)  # flow pixels scale with size

        def up(x):  # (B,T,C,h,w) -> (B*T,C,H,W)
            return F.interpolate(x.flatten(0, 1).float(), size=(H, W), mode="bilinear", align_corners=False)

        mean = model.mean.to(device)
        I0n, I1n = I0.to(device) - mean, I1.to(device) - mean
        t_all = torch.tensor(ts, device=device).repeat(B)
        idx = torch.arange(B, device=device).repeat_interleave(T)
        out = []
        step = max(1, 8_000_000 // (H * W))  # (pair, t) items warped at once at full size
        for s in range(0, B * T, step):
            sl = slice(s, s + step)
            Ft0 = up(aux["Ft0_refined"].flatten(0, 1)[sl].unflatten(0, (-1, 1))) * gain
            Ft1 = up(aux["Ft1_refined"].flatten(0, 1)[sl].unflatten(0, (-1, 1))) * gain
            Vt0 = up(aux["Vt0"].flatten(0, 1)[sl].unflatten(0, (-1, 1)))
            i = idx[sl]
            g0 = backward_warp(I0n[i], Ft0, pad)
            g1 = backward_warp(I1n[i], Ft1, pad)
            out.append((fuse(g0, g1, Vt0, 1 - Vt0, t_all[sl].view(-1, 1, 1, 1)) + mean).clamp_(0, 1))
        return torch.cat(out).reshape(B, T, 3, H, W)


def _load_method(method: str, checkpoint, device, precision, fast: bool = False):
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method != "superslomo":
        if checkpoint is not None:
            raise InputError(f"--checkpoint applies to --method superslomo only, not {method}")
        from .baselines import get_method
        return get_method(method)
    from .pretrained import load
    try:
        dev = runtime.resolve_device(device)
        runtime.resolve_precision(precision, dev)
    except ValueError as e:
        raise InputError(str(e)) from None
    return load(checkpoint, dev, flip_ensemble=False) if fast else load(checkpoint, dev)


def _make_interpolator(job: PairJob, method=None) -> "_Interpolator":
    """The interpolator for a conversion; `method` is the loaded method (else loaded from `job`)."""
    if method is None:
        method = _load_method(job.method, job.checkpoint, "cpu", job.precision, job.fast)
    return _Interpolator(method, job.method, job.scale, job.height, job.width, job.precision, job.batch_size)


def _helper_count(interp: "_Interpolator", workers) -> int:
    """Helper processes beside this one: by default one per extra PyTorch thread, where it pays
    (the model in fp32 on a CPU with NNPACK, frame sizes within HELPER_PIXELS); `workers` overrides."""
    if interp.chunked:
        return 0
    if workers is not None:
        return max(0, int(workers) - 1)
    device = getattr(interp.method, "device", torch.device("cpu"))
    if (interp.name != "superslomo" or interp.reduced
            or not HELPER_PIXELS[0] <= _ceil32(interp.size[0]) * _ceil32(interp.size[1]) <= HELPER_PIXELS[1]
            or not prefers_single_items(device, runtime.resolve_precision(interp.precision, device))):
        return 0
    return max(0, torch.get_num_threads() - 1)


def _with_last(iterable):
    """(item, is_last) for each item, reading one item ahead."""
    it = iter(iterable)
    try:
        prev = next(it)
    except StopIteration:
        return
    for item in it:
        yield prev, False
        prev = item
    yield prev, True


def _share_last(helpers: list, T: int, window_seconds):
    """(helper, k) when the last window's T times are best shared: this process takes k of them and
    the helper that is free soonest the rest (both run the flow pass), so that neither waits a whole
    window for the other; None when this process should do the window alone (or T is 1)."""
    if not helpers or T < 2:
        return None
    helper = min(helpers, key=lambda h: h.free_in(window_seconds or 0.0))
    if helper.busy and not window_seconds:
        return None  # no estimate yet of when it will be free
    k = share_times(T, helper.free_in(window_seconds or 0.0), window_seconds or 1.0)
    return (helper, k) if k < T else None


def _chunked_pair(interp: "_Interpolator", a: np.ndarray, b: np.ndarray, cut: bool):
    """The frames of the pair (a, b) when its in-between frames do not fit in memory together:
    lists of uint8 frames, first [a], then the in-between ones a chunk of times at a time."""
    yield [a]
    pair = np.stack([a, b])
    for ts in interp.ts.chunks(interp.chunk):
        yield [a] * len(ts) if cut else list(interpolate_u8(interp, pair, [0], ts)[0])


def _stop_helpers(helpers: list, threads) -> None:
    """End the helper processes and give this process its thread counts back."""
    for h in helpers:
        h.close(kill=True)
    if threads is not None:
        import cv2
        torch.set_num_threads(threads[0])
        cv2.setNumThreads(threads[1])


# ---- convert -----------------------------------------------------------------------------------
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


def _audio_plan(info: VideoInfo, speed_same: bool, tempo: float, audio: bool, say) -> AudioPlan:
    if not audio or info.audio_codec is None:
        return None
    if not speed_same:
        return AudioPlan(info.path, info.audio_stream, "slow", tempo)
    if info.audio_codec in MP4_AUDIO:
        return AudioPlan(info.path, info.audio_stream, "copy")
    say(f"audio codec {info.audio_codec} cannot go into MP4 untouched; re-encoding it as AAC")
    return AudioPlan(info.path, info.audio_stream, "aac")


def _check_options(scale, fps, scene_threshold, batch_size, workers, method) -> tuple:
    """(scale, fps or None, scene_threshold) from the user's values; InputError names the first bad one."""
    scale = parse_scale(scale)
    fps = parse_fps(fps) if fps is not None else None
    try:
        scene_threshold = float(scene_threshold)
    except (TypeError, ValueError, OverflowError):
        scene_threshold = math.nan
    if not scene_threshold >= 0:
        raise InputError(f"--scene-threshold must be a number >= 0; got {scene_threshold}")
    if batch_size is not None and not (isinstance(batch_size, int) and not isinstance(batch_size, bool)
                                       and batch_size >= 1):
        raise InputError(f"--batch-size must be a whole number >= 1; got {batch_size!r}")
    most = WORKERS_PER_CORE * (os.cpu_count() or 1)
    if workers is not None and not (isinstance(workers, int) and not isinstance(workers, bool)
                                    and 1 <= workers <= most):
        raise InputError(f"--workers must be a whole number from 1 to {most} ({WORKERS_PER_CORE} per CPU core: "
                         f"each is a process with its own memory); got {workers!r}")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return scale, fps, scene_threshold


def _check_input(info: VideoInfo, scale: int, fps_out, say) -> Fraction:
    """The output rate, after refusing what an MP4 cannot hold; notes the streams the output drops."""
    frames = (max(info.frames, 2) - 1) * scale + 1
    if frames > MAX_FRAMES:
        most = (MAX_FRAMES - 1) // max(info.frames - 1, 1)
        raise InputError(f"--scale {scale} would make {frames} frames of {info.path.name}'s {info.frames}, and an "
                         f"MP4 holds at most {MAX_FRAMES}; use --scale {most} or less")
    if fps_out is None:
        fps_out = check_rate(info.fps, f"{info.path.name}'s frame rate (give another with --fps)")
    if info.others:
        lost = any(s.startswith(("audio", "subtitle")) for s in info.others)
        say(f"{info.path.name}: the output keeps one video and one audio stream; dropped {', '.join(info.others)}",
            warning=lost)
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
    why = f" ({_last_line(reader.log)})" if reader.log.strip() else ""
    if reader.returncode or n < info.frames:
        say(f"{name} claims {info.frames} frames but only {n} decode (a damaged or truncated file, or "
            f"empty 'dropped' frames); converted those {n}{why}", warning=True)
    elif why:
        say(f"{name} is damaged: ffmpeg reported errors while decoding it{why}; its {n} frames were converted, "
            f"some possibly patched over", warning=True)


def convert(input, output=None, *, scale=2, fps=None, checkpoint=None, method: str = "superslomo",
            batch_size: int = None, device="auto", precision: str = "auto", audio: bool = True,
            scene_threshold: float = scenes.DEFAULT_THRESHOLD, overwrite: bool = False,
            progress: bool = True, workers: int = None, fast: bool = False) -> ConvertResult:
    """Slow motion or frame-rate conversion of a video file, streamed with bounded memory.

    input:   any video ffmpeg reads (mp4, mkv, avi, ...; any audio codec)
    output:  .mp4 path; default `<input stem>-x<scale>.mp4` beside the input. Written to a hidden
             temporary file in the same folder and renamed at the end (never onto a file that appeared
             meanwhile); removed on error, Ctrl-C or kill. The sound failing fails the conversion.
    overwrite: replace an existing output that `convert` wrote (its `comment` tag); never another file
    scale:   integer >= 2; the output has (N-1)*scale+1 frames (every input frame kept)
    fps:     output rate (number, "59.94" or "30000/1001"); default the input's, i.e. true slow motion
    method:  "superslomo" (the model; `checkpoint` None = the shipped one), or a baseline:
             "flow", "memc", "blend", "duplicate"
    batch_size: frame pairs per model pass (default: 1 on CPU, more on GPU)
    audio:   keep the sound (copied when the duration is unchanged, else slowed with pitch kept)
    scene_threshold: cut score above which frames are duplicated, not morphed; 0 disables
    progress: tqdm bar and notes on stderr (warnings are printed either way)
    workers: processes interpolating pairs side by side, one thread each (default: one per PyTorch
             thread for the model on CPU up to 720p, else 1: this process alone)
    fast:    skip the mirror-image second pass of a checkpoint with `flip_ensemble` (the shipped
             one): about twice as fast, about 0.1 dB lower (checkpoints/README.md)
    """
    start = time.time()
    messages = []

    def say(msg, warning=False):
        messages.append(msg)
        if warning or progress:
            from tqdm import tqdm
            tqdm.write(f"slomo: {'warning: ' if warning else ''}{msg}", file=sys.stderr)

    input = Path(input).expanduser()
    scale, fps_out, scene_threshold = _check_options(scale, fps, scene_threshold, batch_size, workers, method)
    if not input.exists():
        raise InputError(f"no such file: {input}")
    out = _output_path(input, output, scale, overwrite)
    info = probe(input)
    fps_out = _check_input(info, scale, fps_out, say)
    if info.vfr:
        lo, hi = info.fps_range
        say(f"{input.name} has a variable frame rate ({lo:.3g} to {hi:.3g} fps); "
            f"treating it as constant at its average, {_fmt_rate(info.fps)} fps", warning=True)
    interp_method = _load_method(method, checkpoint, device, precision, fast)
    speed_same = fps_out == info.fps * scale
    tempo = float(fps_out / (info.fps * scale))  # audio speed that keeps it in sync with the video
    plan = _audio_plan(info, speed_same, tempo, audio, say)
    job = PairJob(method, checkpoint, precision, scale, info.height, info.width, batch_size, fast)
    interp = _make_interpolator(job, interp_method)
    if interp.reduced:
        say(f"{info.width}x{info.height} is large: flow and visibility are computed at "
            f"{interp.model_size[1]}x{interp.model_size[0]}, warping and blending at full size")

    helpers, threads = [], None
    try:
        n_helpers = _helper_count(interp, workers)
        if n_helpers:
            import cv2
            threads = (torch.get_num_threads(), cv2.getNumThreads())
            if helper_processes.fork_is_safe():  # (`workers` is the argument here)
                interp.prepare()  # on all threads; the forked helpers share what it computes
            for _ in range(n_helpers):
                helpers.append(Helper(job, interp))  # before this process starts any Python thread
            single_thread()  # this process is one of the workers
        reader = FrameReader(input, info)
        frames = _Prefetch(reader, QUEUE_FRAMES, on_stop=reader.kill)
    except BaseException:
        _stop_helpers(helpers, threads)
        raise
    writer = bar = None
    cuts = 0
    temporaries = contextlib.ExitStack()  # closing it publishes the output; an error removes everything
    try:
        it = iter(frames)
        first = [f for _, f in zip(range(2), it)]
        if len(first) < 2:
            for _ in it:  # let the decoder finish to collect its messages
                pass
            why = f" ({_last_line(reader.log)})" if reader.log.strip() else ""
            raise InputError(f"{input.name}: {'no' if not first else 'only one'} decodable video frame"
                             f"{'' if first else 's'}; need at least two{why}")
        tmp = temporaries.enter_context(atomic_output(out, overwrite=made_by_slomo if overwrite else False))
        video_tmp = temporaries.enter_context(scratch(out, "video")) if plan else tmp
        writer = _WriterThread(FrameWriter(video_tmp, info.width, info.height, fps_out,
                                           info.color_matrix, info.sar), maxsize=4)
        from tqdm.auto import tqdm
        bar = tqdm(total=(max(info.frames, 2) - 1) * scale + 1, unit="frame", desc="slomo convert",
                   disable=not progress, dynamic_ncols=True, file=sys.stderr)
        window, thumbs = first[:1], [scenes.thumbnail(first[0])]  # each window: batch_size pairs
        it = itertools.chain(first[1:], it)
        frames_out = 0

        pending = deque()  # (window, keep, helper or frames), in output order

        def write_ready(limit):
            """Write finished windows in order; wait for the oldest while more than `limit` are pending."""
            nonlocal frames_out
            while pending:
                window, keep, target = pending[0]
                if isinstance(target, tuple):  # a pair's times shared out: (helper, this process's frames)
                    helper, mine = target
                    if len(pending) <= limit and not helper.ready():
                        return
                    target = np.concatenate((helper.result(), mine), axis=1)
                elif isinstance(target, Helper):
                    if len(pending) <= limit and not target.ready():
                        return
                    target = target.result()
                pending.popleft()
                made = dict(zip(keep, target))
                for j in range(len(window) - 1):
                    batch = [window[j]] + (list(made[j]) if j in made else [window[j]] * (scale - 1))
                    writer.put(batch)
                    frames_out += len(batch)
                    bar.update(len(batch))

        window_seconds = None  # this process's time for a whole window, once measured

        def flush(window, thumbs, last=False, frames_ahead=0):
            nonlocal cuts, window_seconds, frames_out
            pairs = len(window) - 1
            cut = [scenes.is_cut(thumbs[j], thumbs[j + 1], scene_threshold) for j in range(pairs)]
            cuts += sum(cut)
            if interp.chunked:  # one pair whose in-between frames are made a chunk at a time
                for batch in _chunked_pair(interp, window[0], window[1], cut[0]):
                    writer.put(batch)
                    frames_out += len(batch)
                    bar.update(len(batch))
                return
            keep = [j for j in range(pairs) if not cut[j]]
            target = np.empty((0,))
            if keep:
                stacked = np.stack(window)  # (P+1,H,W,3) uint8
                # a helper takes the window when it is idle, or has one in flight and windows remain to
                # come: then it never waits for this process; near the end nothing queues up behind it
                depth = 2 if frames_ahead >= 2 * interp.batch_size else 1
                idle = min((h for h in helpers if h.in_flight < depth), key=lambda h: h.in_flight, default=None)
                share = _share_last(helpers, interp.T, window_seconds) if last else None
                if share is not None:  # the helper takes the first T - k times, this process the rest
                    helper, k = share
                    helper.submit(stacked, keep, list(interp.ts[:interp.T - k]))
                    target = (helper, interpolate_u8(interp.with_times(interp.ts[interp.T - k:]), stacked, keep))
                elif idle is not None:
                    idle.submit(stacked, keep)
                    target = idle
                else:
                    t0 = time.monotonic()
                    target = interpolate_u8(interp, stacked, keep)
                    if len(keep) == interp.batch_size:
                        window_seconds = time.monotonic() - t0
            pending.append((window, keep, target))
            write_ready(limit=4 * len(helpers))  # windows kept waiting for a slower helper

        for n_read, (f, last) in enumerate(_with_last(it), start=2):
            window.append(f)
            thumbs.append(scenes.thumbnail(f))
            if len(window) > interp.batch_size:
                flush(window, thumbs, last, frames_ahead=info.frames - n_read)  # by the header's count
                window, thumbs = window[-1:], thumbs[-1:]
        if len(window) > 1:
            flush(window, thumbs, last=True)
        write_ready(limit=0)
        for h in helpers:
            h.end_now()  # every result is in
        writer.put([window[-1]])
        frames_out += 1
        bar.update(1)
        writer.finish()
        bar.total = bar.n  # the header may have promised more frames than decoded
        bar.close()
        if plan:  # a failure here fails the conversion: no silent loss of the sound
            mux_audio(video_tmp, plan, Fraction(frames_out) / fps_out, tmp)
        _check_frames(tmp, frames_out, fps_out)
        temporaries.close()
    except BaseException:
        if bar is not None:
            bar.close()
        frames.stop()
        if writer is not None:
            writer.abort()  # the encoder stops before its file is removed
        temporaries.__exit__(*sys.exc_info())
        raise
    finally:
        _stop_helpers(helpers, threads)
    frames.stop()
    n = reader.count
    _warn_if_damaged(input.name, info, reader, say)
    if cuts:
        say(f"{cuts} scene cut{'s' if cuts > 1 else ''}: frames duplicated there instead of interpolated")
    audio_done = {None: None, "copy": "copied", "aac": "re-encoded", "slow": "slowed"}[plan and plan.mode]
    return ConvertResult(output=out, frames_in=n, frames_out=frames_out, fps_in=info.fps, fps_out=fps_out,
                         scale=scale, width=info.width, height=info.height, method=method, audio=audio_done,
                         cuts=cuts, seconds=time.time() - start, messages=messages)
