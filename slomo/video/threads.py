"""Threads around ffmpeg's pipes: decoding runs ahead of the model and encoding behind it, each in
a thread with a bounded queue, so memory does not grow with the video.

    frames = Prefetch(reader, maxsize, on_stop=reader.kill)   # iterate; exceptions re-raised here
    out = WriterThread(FrameWriter(...), maxsize)              # put(frames) ... finish() or abort()
"""
import queue
import threading

from .ffmpeg import FrameWriter

_END = object()


class Prefetch:
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


class WriterThread:
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
