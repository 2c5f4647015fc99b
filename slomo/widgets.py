"""Interactive explorers for notebooks (ipywidgets).

`FrameExplorer` shows what Super SloMo does between two frames of a clip: pick the pair and t with
sliders and switch between the interpolated frame, the flows, the visibility maps, the warped
frames and the classical methods. The flow pass is cached per pair, so moving t only reruns the
interpolation network.
"""
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from . import runtime, viz
from .baselines import get_method
from .files import atomic_output
from .occlusion import round_trip_visibility

VIEWS = ("interpolated", "flows", "visibility", "warped", "classical")
CLASSICAL = ("duplicate", "blend", "flow")


class _LRU(OrderedDict):
    """A small least-recently-used cache."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        while len(self) > self.size:
            self.popitem(last=False)
        return value


def _as_frames(frames) -> list:
    """A clip as a list of frames, each a (H,W,3) uint8 array or a (1,3,H,W) float tensor in [0,1]
    (kept as given: uint8 frames are converted one pair at a time, so long clips stay small)."""
    if isinstance(frames, torch.Tensor):
        if frames.dim() != 4 or frames.shape[1] != 3:
            raise ValueError(f"frames tensor must be (N,3,H,W) float RGB; got {tuple(frames.shape)}")
        out = [f.unsqueeze(0).float().cpu() for f in frames]
    else:
        out = [f.float().cpu().reshape(1, *f.shape[-3:]) if isinstance(f, torch.Tensor) else np.asarray(f)
               for f in frames]
    if len(out) < 2:
        raise ValueError(f"the explorer needs at least 2 frames, got {len(out)}")
    sizes = {tuple(f.shape[-2:]) if isinstance(f, torch.Tensor) else tuple(f.shape[:2]) for f in out}
    if len(sizes) != 1:
        raise ValueError(f"all frames must have the same size; got {sorted(sizes)}")
    return out


def _tensor(frame) -> torch.Tensor:  # (1,3,H,W) float RGB in [0,1]
    return frame if isinstance(frame, torch.Tensor) else viz.to_tensor(frame)


class FrameExplorer:
    """Super SloMo between consecutive frames, explained.

    model:   a SuperSloMo (any flow front end, any checkpoint)
    frames:  a clip: a sequence of (H,W,3) uint8 RGB frames, of (1,3,H,W) / (3,H,W) float tensors,
             or one (N,3,H,W) float tensor in [0,1]
    methods: classical methods shown beside the model in the "classical" view
    max_width: pictures wider than this are shrunk for display (the model sees full frames)
    frame_numbers: the clip's number of each frame, shown in the labels (default 0, 1, 2, ...; e.g.
             `range(12, 42)` for frames read from frame 12 on)

    `render(pair, t, view)` returns the picture as (H,W,3) uint8 (usable without widgets);
    `widget()` builds the ipywidgets UI; displaying the explorer in a notebook shows it.
    """

    def __init__(self, model, frames, *, t: float = 0.5, view: str = "interpolated",
                 methods=CLASSICAL, max_width: int = 1400, cache_pairs: int = 4, frame_numbers=None):
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
        self.model = model.eval()
        self.frames = _as_frames(frames)
        self.frame_numbers = list(range(len(self.frames)) if frame_numbers is None else frame_numbers)
        if len(self.frame_numbers) != len(self.frames):
            raise ValueError(f"{len(self.frame_numbers)} frame numbers for {len(self.frames)} frames")
        f0 = self.frames[0]
        self.size = tuple(f0.shape[-2:]) if isinstance(f0, torch.Tensor) else tuple(f0.shape[:2])  # (H, W)
        self.methods = {name: get_method(name) for name in methods}
        self.t, self.view, self.pair = float(t), view, 0
        self.max_width = max_width
        self.device = model.device
        self.precision = runtime.resolve_precision("auto", self.device)
        # channels_last on CPU: faster for the explorer's quarter-width model (docs/cpu-speed.md)
        self.memory_format = torch.channels_last if self.device.type == "cpu" else \
            runtime.memory_format(self.device, self.precision)
        self._flows = _LRU(cache_pairs)      # pair -> (F01, F10) for the padded pair
        self._results = _LRU(8 * cache_pairs)  # (pair, t) -> dict of model outputs
        self._classical = _LRU(8 * cache_pairs)
        self.last_seconds = {}
        self._ui = None

    @property
    def pairs(self) -> int:
        return len(self.frames) - 1

    # ---- computation (cached) -------------------------------------------------------------
    def _inputs(self, pair: int):
        if not 0 <= pair < self.pairs:
            raise IndexError(f"pair {pair} out of range 0..{self.pairs - 1}")
        fmt = self.memory_format
        I0 = _tensor(self.frames[pair]).to(self.device).contiguous(memory_format=fmt)
        I1 = _tensor(self.frames[pair + 1]).to(self.device).contiguous(memory_format=fmt)
        return I0, I1

    def flows(self, pair: int):
        """F01, F10 for the padded pair (the expensive pass), computed once per pair."""
        def make():
            I0, I1 = self._inputs(pair)
            with torch.no_grad(), runtime.autocast(self.device, self.precision):
                F01, F10 = self.model.flows(I0, I1)
            fmt = self.memory_format
            return F01.float().contiguous(memory_format=fmt), F10.float().contiguous(memory_format=fmt)
        return self._flows.get_or(pair, make)

    def result(self, pair: int, t: float) -> dict:
        """Every intermediate of the model at (pair, t), from the cached flows. One pass: a checkpoint's
        mirror-image ensemble (`flip_ensemble`) is not applied here, so It, flows and Vt0 belong together.

        returns dict of CPU tensors: It (1,3,H,W) clamped to [0,1]; F01, F10 (1,2,H,W);
        Ft0, Ft1, Ft0_refined, Ft1_refined (1,2,H,W); Vt0, Vt1 (1,1,H,W); g0, g1, g0_refined,
        g1_refined (1,3,H,W).
        """
        t = round(float(t), 4)

        def make():
            start = time.perf_counter()
            flows = self.flows(pair)
            self.last_seconds["flows"] = time.perf_counter() - start
            start = time.perf_counter()
            I0, I1 = self._inputs(pair)
            self.model.to(memory_format=self.memory_format)
            with torch.no_grad(), runtime.autocast(self.device, self.precision):
                out = self.model.forward(I0, I1, [t], flows=flows)
            self.last_seconds["interpolation"] = time.perf_counter() - start
            res = {k: v[:, 0].float().cpu() if v.dim() == 5 else v.float().cpu() for k, v in out.items()}
            res["It"] = res["It"].clamp(0, 1)
            return res
        return self._results.get_or((pair, t), make)

    def classical(self, name: str, pair: int, t: float):
        """A classical method's frame at (pair, t): (1,3,H,W) float RGB in [0,1]."""
        t = round(float(t), 4)
        return self._classical.get_or(
            (name, pair, t),
            lambda: self.methods[name].interpolate(_tensor(self.frames[pair]), _tensor(self.frames[pair + 1]),
                                                   [t])[:, 0])

    # ---- pictures ---------------------------------------------------------------------------
    def render(self, pair: int = None, t: float = None, view: str = None) -> np.ndarray:
        """The picture for one state of the explorer, (H,W,3) uint8 RGB."""
        pair = self.pair if pair is None else pair
        t = self.t if t is None else float(t)
        view = self.view if view is None else view
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
        r = self.result(pair, t)
        I0, I1 = _tensor(self.frames[pair]), _tensor(self.frames[pair + 1])
        a, b = self.frame_numbers[pair], self.frame_numbers[pair + 1]
        if view == "interpolated":
            img = viz.side_by_side([I0, r["It"], I1], [f"I0 (frame {a})", f"It, t = {t:.2f}",
                                                      f"I1 (frame {b})"])
        elif view == "flows":
            names = ("F01", "F10", "Ft0_refined", "Ft1_refined")
            m = max(viz.flow_magnitude(r[k]) for k in names)
            img = viz.grid([viz.flow_with_legend(r[k], m) for k in names],
                           [f"F01: frame {a} -> {b}", f"F10: frame {b} -> {a}",
                            f"Ft0 refined (t = {t:.2f})", f"Ft1 refined (t = {t:.2f})"])
        elif view == "visibility":
            lo, hi = float(r["Vt0"].min()), float(r["Vt0"].max())
            cue, _, _ = round_trip_visibility(r["F01"], r["F10"], t)
            img = viz.grid([viz.visibility_heatmap(r["Vt0"]), viz.visibility_heatmap(cue),
                            viz.difference(r["g0_refined"], r["g1_refined"]), r["It"]],
                           [f"Vt0 in [{lo:.2f}, {hi:.2f}]: 1 yellow = from I0, 0 purple = from I1",
                            "flow round trip (classical): yellow = only I0 sees it",
                            "|g0 - g1| x4: where the warps disagree", f"It, t = {t:.2f}"])
        elif view == "warped":
            img = viz.grid([r["g0"], r["g1"], r["g0_refined"], r["g1_refined"]],
                           ["g(I0, Ft0) linear flow", "g(I1, Ft1) linear flow",
                            "g(I0, Ft0) refined", "g(I1, Ft1) refined"])
        else:
            names = list(self.methods)
            frames = [self.classical(n, pair, t) for n in names] + [r["It"]]
            img = viz.grid(frames, [n if n != "flow" else "flow (DIS, no learning)" for n in names]
                           + ["Super SloMo"])
        return viz.fit_width(img, self.max_width)

    # ---- widgets ----------------------------------------------------------------------------
    def widget(self):
        """The explorer as an ipywidgets VBox (sliders, view buttons, picture, timing line)."""
        if self._ui is not None:
            return self._ui
        import ipywidgets as w
        pairs = [(f"{self.frame_numbers[i]} -> {self.frame_numbers[i + 1]}", i) for i in range(self.pairs)]
        self.pair_slider = w.SelectionSlider(options=pairs, value=self.pair, description="frames",
                                             continuous_update=False, layout=w.Layout(width="420px"))
        self.t_slider = w.FloatSlider(value=self.t, min=0.05, max=0.95, step=0.05, description="t",
                                      continuous_update=False, readout_format=".2f",
                                      layout=w.Layout(width="420px"))
        self.view_buttons = w.ToggleButtons(options=VIEWS, value=self.view, description="show")
        self.image = w.Image(format="jpeg")
        self.image.add_class("slomo-explorer-image")
        self.status = w.HTML()
        for control in (self.pair_slider, self.t_slider, self.view_buttons):
            control.observe(self._on_change, names="value")
        self._ui = w.VBox([w.HBox([self.pair_slider, self.t_slider]), self.view_buttons, self.image, self.status])
        self._ui.add_class("slomo-explorer")
        self.update()
        return self._ui

    def _on_change(self, _change):
        self.pair, self.t, self.view = self.pair_slider.value, self.t_slider.value, self.view_buttons.value
        self.update()

    def update(self):
        """Recompute and show the current picture (called by the controls)."""
        start = time.perf_counter()
        self.last_seconds = {}
        self.status.value = "<i>computing ...</i>"
        img = self.render()
        self.image.value = viz.encode(img, "jpeg")
        took = time.perf_counter() - start
        H, W = self.size
        parts = [f"{k} {v:.2f} s" for k, v in self.last_seconds.items()]
        detail = f" ({', '.join(parts)})" if parts else " (cached)"
        a, b = self.frame_numbers[self.pair], self.frame_numbers[self.pair + 1]
        self.status.value = (f"frames {a} -> {b}, t = {self.t:.2f}, {self.view}: {took:.2f} s{detail}"
                             f" &middot; {W}x{H} on {self.device}")

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget())


class VideoUpload:
    """An upload button for a small personal video; the file is saved into `folder`.

    The widget sends the whole file to the kernel in one message, which Jupyter servers drop above a
    few MB to tens of MB (silently): `max_mb` is said on the button's line. Big files go through
    JupyterLab's file browser, which uploads in chunks. `path` is None until something is uploaded,
    then the saved file's Path.
    """

    def __init__(self, folder, accept: str = "video/*,.mp4,.mkv,.avi,.mov,.webm,.mpg", max_mb: float = 10,
                 note: str = ""):
        import ipywidgets as w
        self.folder = Path(folder)
        self.path = None
        self.button = w.FileUpload(accept=accept, multiple=False, description="Upload a video")
        self.message = w.HTML(f"Small files (under about {max_mb:g} MB) only; nothing uploaded yet.")
        self.note = w.HTML(note)  # shown above the button (HTML)
        self.button.observe(self._on_upload, names="value")
        self.box = w.VBox([self.note, w.HBox([self.button, self.message])]) if note else \
            w.HBox([self.button, self.message])

    def _on_upload(self, change):
        files = change["new"]
        if not files:
            return
        item = files[0]
        name = Path(item["name"]).name or "upload.mp4"
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / name
        with atomic_output(target, overwrite=True) as tmp:
            tmp.write_bytes(bytes(item["content"]))
        self.path = target
        self.message.value = (f"Saved <code>{target}</code> ({target.stat().st_size / 1e6:.1f} MB). "
                              "Run the cells below (or Run All) to convert it.")

    def _ipython_display_(self):
        from IPython.display import display
        display(self.box)
