"""`convert`: streaming slow motion and frame-rate conversion of a video file, sound kept.

    convert(input, ...) -> ConvertResult: (N-1)*scale+1 frames, written atomically

The conversion is a pipeline: a thread decodes (ffmpeg -> queue), the calling thread interpolates,
a thread encodes (queue -> ffmpeg). Queues are bounded, so memory does not grow with the video.
The model sees (B,3,H,W) float RGB in [0,1]; uint8 HWC frames stay in this module and videoio.py.
`probe` and `read_frames` (from videoio) are available here too.
"""
import copy
import itertools
import math
import os
import queue
import sys
import tempfile
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
from .files import publish
from .methods import METHODS
from .synthesis import fuse
from .videoio import (
    MP4_AUDIO,
    AudioPlan,
    FrameReader,
    FrameWriter,
    VideoInfo,
    _last_line,
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


def parse_scale(value) -> int:
    """The slow-motion factor: an integer >= 2."""
    if isinstance(value, bool):
        value = str(value)
    try:
        f = float(value)
    except (TypeError, ValueError):
        f = math.nan
    if not math.isfinite(f) or f != int(f) or f < 2:
        raise InputError(f"--scale must be a whole number of at least 2; got {value}")
    return int(f)


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
        self.ts = [k / scale for k in range(1, scale)]
        self.T = len(self.ts)
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
        self.batch_size = int(batch_size)
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
        other.ts, other.T = list(ts), len(ts)
        return other

    def __call__(self, I0, I1):
        """I0, I1: (B,3,H,W) float RGB in [0,1] -> (B,T,3,H,W) float RGB in [0,1]."""
        if self.name != "superslomo":
            return self.method.interpolate(I0, I1, self.ts)
        if not self.reduced:
            return self.method.interpolate(I0, I1, self.ts, precision=self.precision, max_batch=self.max_batch)
        return self._reduced(I0, I1)

    def _reduced(self, I0, I1):
        model = self.method
        B, T, (H, W), (h, w) = I0.shape[0], self.T, self.size, self.model_size
        small = [F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
                 for x in (I0, I1)]
        _, aux = model.interpolate(*small, self.ts, return_aux=True, precision=self.precision,
                                   max_batch=self.max_batch, ensemble=False)  # flows and Vt0 only
        device, pad = model.device, model.config.padding
        gain = torch.tensor([W / w, H / h], device=device).view(1, 2, 1, 1)  # flow pixels scale with size

        def up(x):  # (B,T,C,h,w) -> (B*T,C,H,W)
            return F.interpolate(x.flatten(0, 1).float(), size=(H, W), mode="bilinear", align_corners=False)

        mean = model.mean.to(device)
        I0n, I1n = I0.to(device) - mean, I1.to(device) - mean
        t_all = torch.tensor(self.ts, device=device).repeat(B)
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
    if out.resolve() == input.resolve() or (out.exists() and os.path.samefile(out, input)):
        raise InputError(f"the output {out} is the input file; choose another name")
    if out.is_dir():
        raise InputError(f"the output {out} is a folder")
    if out.exists() and not overwrite:
        raise InputError(f"{out} already exists; pass --overwrite to replace it")
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


def convert(input, output=None, *, scale=2, fps=None, checkpoint=None, method: str = "superslomo",
            batch_size: int = None, device="auto", precision: str = "auto", audio: bool = True,
            scene_threshold: float = scenes.DEFAULT_THRESHOLD, overwrite: bool = False,
            progress: bool = True, workers: int = None, fast: bool = False) -> ConvertResult:
    """Slow motion or frame-rate conversion of a video file, streamed with bounded memory.

    input:   any video ffmpeg reads (mp4, mkv, avi, ...; any audio codec)
    output:  .mp4 path; default `<input stem>-x<scale>.mp4` beside the input. Written to a temporary
             file in the same folder and renamed at the end; removed on error or Ctrl-C.
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
    scale = parse_scale(scale)
    fps_out = parse_fps(fps) if fps is not None else None
    try:
        scene_threshold = float(scene_threshold)
    except (TypeError, ValueError):
        scene_threshold = math.nan
    if not scene_threshold >= 0:
        raise InputError(f"--scene-threshold must be a number >= 0; got {scene_threshold}")
    if batch_size is not None and not (isinstance(batch_size, int) and not isinstance(batch_size, bool)
                                       and batch_size >= 1):
        raise InputError(f"--batch-size must be a whole number >= 1; got {batch_size}")
    if workers is not None and not (isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1):
        raise InputError(f"--workers must be a whole number >= 1; got {workers}")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not input.exists():
        raise InputError(f"no such file: {input}")
    out = _output_path(input, output, scale, overwrite)
    info = probe(input)
    fps_out = fps_out or info.fps
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
    writer = tmp = video_tmp = None
    cuts = 0
    bar = None
    try:
        it = iter(frames)
        first = [f for _, f in zip(range(2), it)]
        if len(first) < 2:
            for _ in it:  # let the decoder finish to collect its messages
                pass
            why = f" ({_last_line(reader.log)})" if reader.log.strip() else ""
            raise InputError(f"{input.name}: {'no' if not first else 'only one'} decodable video frame"
                             f"{'' if first else 's'}; need at least two{why}")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".part.mp4", dir=out.parent)
        except OSError as e:
            raise InputError(f"cannot write to the output folder {out.parent} ({e.strerror})") from None
        os.close(fd)
        tmp = Path(tmp)
        video_tmp = tmp.with_name(tmp.name[:-len(".part.mp4")] + ".video.part.mp4") if plan else tmp
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
            nonlocal cuts, window_seconds
            pairs = len(window) - 1
            cut = [scenes.is_cut(thumbs[j], thumbs[j + 1], scene_threshold) for j in range(pairs)]
            cuts += sum(cut)
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
                    helper.submit(stacked, keep, interp.ts[:interp.T - k])
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
        if plan:
            try:
                mux_audio(video_tmp, plan, float(frames_out / fps_out), tmp)
                video_tmp.unlink()
            except SlomoError as e:  # keep the video rather than lose the work
                say(f"{e}; the video is written without sound", warning=True)
                plan = None
                os.replace(video_tmp, tmp)
        publish(tmp, out)
    except BaseException:
        if bar is not None:
            bar.close()
        frames.stop()
        if writer is not None:
            writer.abort()
        for p in (tmp, video_tmp):
            if p is not None:
                p.unlink(missing_ok=True)
        raise
    finally:
        _stop_helpers(helpers, threads)
    frames.stop()
    n = reader.count
    if reader.returncode or n < info.frames * 0.95 - 1:
        why = f" ({_last_line(reader.log)})" if reader.log.strip() else ""
        say(f"{input.name} claims {info.frames} frames but only {n} decode (a damaged or truncated file, or "
            f"empty 'dropped' frames); converted those {n}{why}", warning=True)
    if cuts:
        say(f"{cuts} scene cut{'s' if cuts > 1 else ''}: frames duplicated there instead of interpolated")
    audio_done = {None: None, "copy": "copied", "aac": "re-encoded", "slow": "slowed"}[plan and plan.mode]
    return ConvertResult(output=out, frames_in=n, frames_out=frames_out, fps_in=info.fps, fps_out=fps_out,
                         scale=scale, width=info.width, height=info.height, method=method, audio=audio_done,
                         cuts=cuts, seconds=time.time() - start, messages=messages)
