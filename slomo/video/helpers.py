"""Helper processes that interpolate frame pairs beside the main one (CPU conversion).

NNPACK's convolutions are the fastest CPU kernels for one thread but scale poorly across threads
(docs/convert-internals.md). Independent frame pairs scale well, so `convert` gives each core a process with
one thread: the main process plus `Helper`s, each interpolating whole pairs.

    helper = Helper(job)            # job: a picklable `PairJob`
    helper.submit(window, keep)     # uint8 frames (P+1,H,W,3), indices of pairs to interpolate (, times)
    helper.ready(); helper.result() # (len(keep),T,H,W,3) uint8, in the order submitted
    helper.close()

A helper is forked when that is safe (this process has started no threads and no NNPACK thread pool,
as in the command line), so it starts at once with the model already loaded; otherwise it is spawned
and loads the model itself.
"""
import multiprocessing
import queue
import signal
import threading
import time

import numpy as np
import torch

from .. import runtime
from ..cpu.conv import prefers_single_items
from ..errors import SlomoError
from ..padding import Padder
from .interpolator import FrameInterpolator, PairJob

HELPER_PIXELS = (256 * 256, 1280 * 736)  # helper processes (one per extra core) from about 256x256, where
# the model's time outweighs a helper's start-up, up to 720p, above which memory comes first


def helper_count(interp: FrameInterpolator, workers=None) -> int:
    """Helper processes beside this one: by default one per extra PyTorch thread, where it pays
    (the model in fp32 on a CPU with NNPACK, frame sizes within HELPER_PIXELS); `workers` overrides."""
    if interp.chunked:
        return 0
    if workers is not None:
        return max(0, int(workers) - 1)
    H, W = Padder(interp.size).padded_size
    if (not interp.is_model or interp.reduced or not HELPER_PIXELS[0] <= H * W <= HELPER_PIXELS[1]
            or not prefers_single_items(interp.device, runtime.resolve_precision(interp.precision, interp.device))):
        return 0
    return max(0, torch.get_num_threads() - 1)


def single_thread() -> None:
    """One compute thread in this process (PyTorch and OpenCV)."""
    import cv2
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def _serve(conn, job: PairJob, interp) -> None:
    """The helper's loop: receive (window, keep, times), send back ("ok", frames) or ("error", message)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    single_thread()
    try:
        if interp is None:
            interp = FrameInterpolator.for_job(job)
        inbox = queue.SimpleQueue()  # read by a thread, so that a window submitted while this helper is
        threading.Thread(target=_receive, args=(conn, inbox), daemon=True).start()  # sending never deadlocks
        while True:
            msg = inbox.get()
            if msg is None:
                return
            try:
                conn.send(("ok", interp.interpolate_u8(*msg)))
            except Exception as e:  # noqa: BLE001 - reported to the main process as one line
                conn.send(("error", f"{type(e).__name__}: {e}"))
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        return


def _receive(conn, inbox, arrivals=None) -> None:
    """Move every message from the other end of `conn` into `inbox` (appending its arrival time to
    `arrivals`); None at the end. Both sides read on a thread, so neither waits for the other to send."""
    try:
        while True:
            msg = conn.recv()
            if arrivals is not None and msg is not None:
                arrivals.append(time.monotonic())
            inbox.put(msg)
            if msg is None:
                return
    except (EOFError, OSError):
        inbox.put(None)


def fork_is_safe() -> bool:
    """Forking copies this process's memory (model included) but not its threads: safe only while the
    process runs one thread and has not started NNPACK's thread pool (it would hang in the child)."""
    from ..cpu.nnpack import torch_pool_started
    return ("fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
            and not torch_pool_started())


class HelperPool:
    """The helper processes of one conversion, started before this process starts any thread (this
    process then runs one compute thread too), and ended with its thread counts given back.

        with HelperPool(job, interp, helper_count(interp, workers)) as pool:
            pool.helpers  # [Helper, ...], possibly none
    """

    def __init__(self, job: PairJob, interp: FrameInterpolator, n: int):
        self.helpers, self._threads = [], None
        if not n:
            return
        import cv2
        self._threads = (torch.get_num_threads(), cv2.getNumThreads())
        try:
            if fork_is_safe():
                interp.precompute_kernels()  # on all threads; the forked helpers share what it computes
            for _ in range(n):
                self.helpers.append(Helper(job, interp))  # before this process starts any Python thread
            single_thread()  # this process is one of the workers
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """End the helper processes and give this process its thread counts back."""
        helpers, self.helpers = self.helpers, []
        for h in helpers:
            h.close(kill=True)
        if self._threads is not None:
            import cv2
            torch.set_num_threads(self._threads[0])
            cv2.setNumThreads(self._threads[1])
            self._threads = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def share_times(T: int, wait: float, window_seconds: float) -> int:
    """How many of a last window's T times this process should take when a helper that is free in
    `wait` seconds takes the rest; both run the window's flow pass, so each side costs one pass plus
    one pass per time, a pass being window_seconds / (T + 1). Returns k in 1..T (T: do it alone)."""
    unit = window_seconds / (T + 1)
    return min(range(1, T + 1), key=lambda k: (max(wait + (T - k + 1) * unit, (k + 1) * unit), k))


class Helper:
    """One helper process; windows submitted to it are interpolated and returned in order."""

    def __init__(self, job: PairJob, interp=None):
        fork = interp is not None and fork_is_safe()
        ctx = multiprocessing.get_context("fork" if fork else "spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, job, interp if fork else None), daemon=True)
        self._proc.start()
        child.close()
        self._results = queue.SimpleQueue()  # filled by a thread, so that the helper never waits to send
        self._reader = None  # started with the first window, after every helper has been forked
        self._submitted = []  # submission time of each window
        self._finished = []  # arrival time of each result

    @property
    def in_flight(self) -> int:
        """Windows submitted whose results have not arrived yet."""
        return len(self._submitted) - len(self._finished)

    @property
    def busy(self) -> bool:
        return self.in_flight > 0

    def free_in(self, window_seconds: float) -> float:
        """Expected seconds until the helper is free, if each window takes `window_seconds`."""
        n = self.in_flight
        if not n:
            return 0.0
        started = max(self._submitted[len(self._finished)], self._finished[-1] if self._finished else 0.0)
        return max(0.0, started + n * window_seconds - time.monotonic())

    def submit(self, window: np.ndarray, keep: list, ts=None) -> None:
        if self._reader is None:
            self._reader = threading.Thread(target=_receive, args=(self._conn, self._results, self._finished),
                                            daemon=True)
            self._reader.start()
        self._submitted.append(time.monotonic())
        self._conn.send((window, keep, ts))

    def ready(self) -> bool:
        return not self._results.empty()

    def result(self) -> np.ndarray:
        """The next result, in the order the windows were submitted (waits for it)."""
        msg = self._results.get()
        if msg is None:
            self._results.put(None)
            raise SlomoError(f"a helper process died (exit code {self._proc.exitcode}); "
                             "try again with OMP_NUM_THREADS=1 or less memory in use")
        status, value = msg
        if status != "ok":
            raise SlomoError(f"a helper process failed: {value}")
        return value

    def end_now(self) -> None:
        """Kill the helper without waiting: once every result is in, its memory is freed while this
        process finishes the video (`close` then only collects it)."""
        if self._proc.is_alive():
            self._proc.kill()

    def close(self, kill: bool = False) -> None:
        try:
            if not kill:
                self._conn.send(None)
        except OSError:
            pass
        self._conn.close()
        self._proc.join(timeout=None if not kill else 0)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
