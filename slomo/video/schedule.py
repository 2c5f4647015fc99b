"""The window scheduler: decoded frames in, the output's frames out, in order.

Frames are grouped in windows of `batch_size` pairs (a window's last frame is the next one's first).
Each window's in-between frames are made by this process or by an idle helper process, or, for the
last window, shared between the two; pairs across a scene cut are duplicated instead. Finished
windows are written in order, at most a few kept waiting for a slower helper.

    sink = FrameSink(WriterThread(...), total, progress)
    WindowScheduler(interp, helpers, sink, scene_threshold).run(frames, frames_claimed)
"""
import sys
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from . import scenes
from .helpers import Helper, share_times
from .interpolator import FrameInterpolator
from .threads import WriterThread


class FrameSink:
    """Where the output's uint8 frames go, in order: the encoder's thread, counted on a progress bar."""

    def __init__(self, writer: WriterThread, total: int, progress: bool):
        from tqdm.auto import tqdm
        self.writer, self.count = writer, 0
        self.bar = tqdm(total=total, unit="frame", desc="slomo convert", disable=not progress,
                        dynamic_ncols=True, file=sys.stderr)

    def put(self, frames) -> None:
        self.writer.put(frames)
        self.count += len(frames)
        self.bar.update(len(frames))

    def finish(self) -> None:
        """Wait for the encoder to write everything (raises if it failed) and close the bar."""
        self.writer.finish()
        self.bar.total = self.bar.n  # the header may have promised more frames than decoded
        self.bar.close()

    def abort(self) -> None:
        self.bar.close()
        self.writer.abort()  # the encoder stops before its file is removed


@dataclass
class WindowWork:
    """A window's in-between frames as they are being made: by a helper, by this process (`mine`), or
    shared, the helper making the first times and this process the rest."""
    window: list               # P+1 (H,W,3) uint8 frames
    keep: list                 # the pairs (j, j+1) interpolated; the others cross a scene cut
    helper: Helper = None      # makes the window's first times, all of them when `mine` is None
    mine: np.ndarray = None    # (len(keep),T',H,W,3) uint8 made by this process

    def ready(self) -> bool:
        return self.helper is None or self.helper.ready()

    def frames(self) -> np.ndarray:
        """(len(keep),T,H,W,3) uint8, waiting for the helper's share."""
        if self.helper is None:
            return self.mine
        theirs = self.helper.result()
        return theirs if self.mine is None else np.concatenate((theirs, self.mine), axis=1)


class WindowScheduler:
    """Who makes each window's in-between frames, and writing them in order (see the module's text)."""

    def __init__(self, interp: FrameInterpolator, helpers: list, sink: FrameSink, scene_threshold: float):
        self.interp, self.helpers, self.sink, self.threshold = interp, helpers, sink, scene_threshold
        self.pending = deque()  # WindowWork, in output order
        self.window_seconds = None  # this process's time for a whole window, once measured
        self.cuts = 0  # pairs across a scene cut

    def run(self, frames, frames_claimed: int) -> None:
        """Write the output of `frames` (an iterable of (H,W,3) uint8 frames, at least two) to the sink.
        frames_claimed: the input's frame count by its header, to tell how many windows remain."""
        it = iter(frames)
        first = next(it)
        window, thumbs = [first], [scenes.thumbnail(first)]  # each window: batch_size pairs
        for n_read, (f, last) in enumerate(_with_last(it), start=2):
            window.append(f)
            thumbs.append(scenes.thumbnail(f))
            if len(window) > self.interp.batch_size:
                self.submit(window, thumbs, last, frames_ahead=frames_claimed - n_read)
                window, thumbs = window[-1:], thumbs[-1:]
        if len(window) > 1:
            self.submit(window, thumbs, last=True)
        self.write_ready(limit=0)
        for h in self.helpers:
            h.end_now()  # every result is in
        self.sink.put([window[-1]])

    def submit(self, window: list, thumbs: list, last: bool = False, frames_ahead: int = 0) -> None:
        """Start making a window's in-between frames, then write what is ready."""
        interp, pairs = self.interp, len(window) - 1
        cut = [scenes.is_cut(thumbs[j], thumbs[j + 1], self.threshold) for j in range(pairs)]
        self.cuts += sum(cut)
        if interp.chunked:  # one pair whose in-between frames are made a chunk at a time
            for batch in _chunked_pair(interp, window[0], window[1], cut[0]):
                self.sink.put(batch)
            return
        keep = [j for j in range(pairs) if not cut[j]]
        work = WindowWork(window, keep, mine=np.empty((0,)))
        if keep:
            work = self._start(window, keep, last, frames_ahead)
        self.pending.append(work)
        self.write_ready(limit=4 * len(self.helpers))  # windows kept waiting for a slower helper

    def _start(self, window: list, keep: list, last: bool, frames_ahead: int) -> WindowWork:
        interp = self.interp
        stacked = np.stack(window)  # (P+1,H,W,3) uint8
        # a helper takes the window when it is idle, or has one in flight and windows remain to
        # come: then it never waits for this process; near the end nothing queues up behind it
        depth = 2 if frames_ahead >= 2 * interp.batch_size else 1
        idle = min((h for h in self.helpers if h.in_flight < depth), key=lambda h: h.in_flight, default=None)
        share = self._share_last() if last else None
        if share is not None:  # the helper takes the first T - k times, this process the rest
            helper, k = share
            helper.submit(stacked, keep, list(interp.ts[:interp.T - k]))
            return WindowWork(window, keep, helper, interp.with_times(interp.ts[interp.T - k:])
                              .interpolate_u8(stacked, keep))
        if idle is not None:
            idle.submit(stacked, keep)
            return WindowWork(window, keep, idle)
        t0 = time.monotonic()
        mine = interp.interpolate_u8(stacked, keep)
        if len(keep) == interp.batch_size:
            self.window_seconds = time.monotonic() - t0
        return WindowWork(window, keep, mine=mine)

    def _share_last(self):
        """(helper, k) when the last window's T times are best shared: this process takes k of them and
        the helper that is free soonest the rest (both run the flow pass), so that neither waits a whole
        window for the other; None when this process should do the window alone (or T is 1)."""
        T, seconds = self.interp.T, self.window_seconds
        if not self.helpers or T < 2:
            return None
        helper = min(self.helpers, key=lambda h: h.free_in(seconds or 0.0))
        if helper.busy and not seconds:
            return None  # no estimate yet of when it will be free
        k = share_times(T, helper.free_in(seconds or 0.0), seconds or 1.0)
        return (helper, k) if k < T else None

    def write_ready(self, limit: int) -> None:
        """Write finished windows in order; wait for the oldest while more than `limit` are pending."""
        scale = self.interp.ts.scale
        while self.pending:
            work = self.pending[0]
            if len(self.pending) <= limit and not work.ready():
                return
            made = dict(zip(work.keep, work.frames()))
            self.pending.popleft()
            window = work.window
            for j in range(len(window) - 1):
                self.sink.put([window[j]] + (list(made[j]) if j in made else [window[j]] * (scale - 1)))


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


def _chunked_pair(interp: FrameInterpolator, a: np.ndarray, b: np.ndarray, cut: bool):
    """The frames of the pair (a, b) when its in-between frames do not fit in memory together:
    lists of uint8 frames, first [a], then the in-between ones a chunk of times at a time."""
    yield [a]
    pair = np.stack([a, b])
    for ts in interp.ts.chunks(interp.chunk):
        yield [a] * len(ts) if cut else list(interp.interpolate_u8(pair, [0], ts)[0])
