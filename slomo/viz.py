"""Pictures for notebooks and widgets: flow colouring, visibility heatmaps, side-by-side images.

This module and `video` are where uint8 HWC images appear: everything returned here as an image
is a (H,W,3) uint8 RGB numpy array, ready for `plt.imshow`, `ipywidgets.Image` or a PNG file.
"""
import base64
import html
from pathlib import Path

import cv2
import numpy as np
import torch

from .synthesis import intermediate_flows

FONT = cv2.FONT_HERSHEY_SIMPLEX


# ---- conversions --------------------------------------------------------------------------------
def to_uint8(image) -> np.ndarray:
    """Any single image as (H,W,3) uint8 RGB.

    image: (3,H,W) or (1,3,H,W) float tensor in [0,1], or a (H,W,3) uint8 / float [0,1] array;
           one-channel inputs are repeated to grey.
    """
    if isinstance(image, torch.Tensor):
        x = image.detach().float().cpu()
        while x.dim() > 3:
            if x.shape[0] != 1:
                raise ValueError(f"to_uint8 takes one image, got a batch of shape {tuple(image.shape)}")
            x = x[0]
        if x.dim() == 2:
            x = x.unsqueeze(0)
        x = (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    else:
        x = np.asarray(image)
        if x.dtype != np.uint8:
            x = (np.clip(x.astype(np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
        if x.ndim == 2:
            x = x[..., None]
    if x.ndim != 3 or x.shape[2] not in (1, 3):
        raise ValueError(f"expected one image (3,H,W) or (H,W,3); got shape {x.shape}")
    if x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    return np.ascontiguousarray(x)


def to_tensor(frame) -> torch.Tensor:
    """(H,W,3) uint8 RGB -> (1,3,H,W) float RGB in [0,1]."""
    x = np.asarray(frame)
    if x.ndim != 3 or x.shape[2] != 3 or x.dtype != np.uint8:
        raise ValueError(f"expected a (H,W,3) uint8 RGB frame; got {x.dtype} {x.shape}")
    if not (x.flags.c_contiguous and x.flags.writeable):  # e.g. frames decoded into read-only buffers
        x = np.array(x, order="C")
    return torch.from_numpy(x).permute(2, 0, 1).unsqueeze(0).float() / 255


def _flow_hw2(flow) -> np.ndarray:  # (2,H,W) / (1,2,H,W) tensor or (H,W,2) array -> (H,W,2) float32
    if isinstance(flow, torch.Tensor):
        f = flow.detach().float().cpu()
        while f.dim() > 3 and f.shape[0] == 1:
            f = f[0]
        if f.dim() != 3 or f.shape[0] != 2:
            raise ValueError(f"expected a (2,H,W) flow; got shape {tuple(flow.shape)}")
        return f.permute(1, 2, 0).numpy()
    f = np.asarray(flow, dtype=np.float32)
    if f.ndim != 3 or f.shape[2] != 2:
        raise ValueError(f"expected a (H,W,2) flow array; got shape {f.shape}")
    return f


# ---- flow colouring -----------------------------------------------------------------------------
def flow_magnitude(flow) -> float:
    """Largest flow length in pixels. flow: (2,H,W) tensor or (H,W,2) array."""
    f = _flow_hw2(flow)
    return float(np.sqrt((f ** 2).sum(-1)).max()) if f.size else 0.0


def flow_to_color(flow, max_norm: float = None) -> np.ndarray:
    """Colour-code a flow field: hue is the direction, saturation the length, white is no motion.

    flow:     (2,H,W) tensor or (H,W,2) array, pixels (dx,dy); y points down
    max_norm: the length shown fully saturated (default: the field's own maximum)
    returns (H,W,3) uint8 RGB. Directions follow `color_wheel`: right red, down yellow-green,
    left cyan, up blue-violet.
    """
    f = _flow_hw2(flow)
    mag = np.sqrt((f ** 2).sum(-1))
    if max_norm is None:
        max_norm = float(mag.max()) if mag.size else 0.0
    max_norm = max(float(max_norm), 1e-6)
    ang = np.arctan2(f[..., 1], f[..., 0])  # (-pi, pi], 0 = right, pi/2 = down
    hsv = np.empty(f.shape[:2] + (3,), np.uint8)
    hsv[..., 0] = ((ang % (2 * np.pi)) / (2 * np.pi) * 180).astype(np.uint8) % 180
    hsv[..., 1] = (np.clip(mag / max_norm, 0, 1) * 255 + 0.5).astype(np.uint8)
    hsv[..., 2] = 255
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def color_wheel(size: int = 96, max_norm: float = 1.0) -> np.ndarray:
    """The legend of `flow_to_color`: the colour of every flow vector up to `max_norm`.

    The centre is zero flow; a pixel at offset (dx,dy) from the centre shows the colour of flow
    (dx,dy) scaled so that the rim is `max_norm`. Outside the disc is mid grey.
    returns (size,size,3) uint8 RGB.
    """
    c = (size - 1) / 2
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    f = np.stack(((xs - c) / c, (ys - c) / c), axis=-1) * max_norm
    wheel = flow_to_color(f, max_norm=max_norm)
    outside = np.sqrt(((xs - c) / c) ** 2 + ((ys - c) / c) ** 2) > 1
    wheel[outside] = 128
    return wheel


def flow_with_legend(flow, max_norm: float = None, title: str = None) -> np.ndarray:
    """`flow_to_color` with the colour wheel and its rim length ("12.3 px") in the top-left corner."""
    if max_norm is None:
        max_norm = flow_magnitude(flow)
    img = flow_to_color(flow, max_norm).copy()
    H, W = img.shape[:2]
    size = max(24, min(80, min(H, W) // 4))
    text = f"{max_norm:.1f} px"
    scale = size / 110
    (tw, th), base = cv2.getTextSize(text, FONT, scale, 1)
    bw, bh = max(size, tw) + 8, size + th + base + 10
    if bw + 2 <= W and bh + 2 <= H:
        img[2:2 + bh, 2:2 + bw] = 64
        x0 = 2 + (bw - size) // 2
        img[6:6 + size, x0:x0 + size] = color_wheel(size, max_norm)
        cv2.putText(img, text, (2 + (bw - tw) // 2, 8 + size + th), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return label(img, title) if title else img


# ---- other maps ---------------------------------------------------------------------------------
def heatmap(values, vmin: float = 0.0, vmax: float = 1.0, colormap: int = cv2.COLORMAP_VIRIDIS) -> np.ndarray:
    """Colour-map a single-channel map. values: (H,W) / (1,H,W) / (1,1,H,W). returns (H,W,3) uint8."""
    v = values.detach().float().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values, np.float32)
    while v.ndim > 2 and v.shape[0] == 1:
        v = v[0]
    if v.ndim != 2:
        raise ValueError(f"expected a single-channel (H,W) map; got shape {np.shape(values)}")
    u8 = (np.clip((v - vmin) / max(vmax - vmin, 1e-12), 0, 1) * 255 + 0.5).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(u8, colormap), cv2.COLOR_BGR2RGB)


def visibility_heatmap(V, title: str = None) -> np.ndarray:
    """A visibility map Vt0 or Vt1 ((1,H,W) in [0,1]) in viridis: yellow visible, dark purple occluded."""
    img = heatmap(V, 0.0, 1.0, cv2.COLORMAP_VIRIDIS)
    return label(img, title) if title else img


def difference(a, b, gain: float = 4.0) -> np.ndarray:
    """|a - b| averaged over RGB, times `gain`, in the magma colour map (black = equal).

    a, b: single images in any form `to_uint8` takes, of the same size. returns (H,W,3) uint8.
    """
    a = to_uint8(a).astype(np.float32) / 255
    b = to_uint8(b).astype(np.float32) / 255
    if a.shape != b.shape:
        raise ValueError(f"difference: images differ in size, {a.shape} vs {b.shape}")
    return heatmap(np.abs(a - b).mean(-1) * gain, 0.0, 1.0, cv2.COLORMAP_MAGMA)


# ---- layout -------------------------------------------------------------------------------------
def put_text(image: np.ndarray, text: str, origin=(4, 16), scale: float = 0.5) -> np.ndarray:
    """Write white text with a dark outline at `origin` (x, baseline y); returns a new image."""
    img = np.ascontiguousarray(image).copy()
    thick = max(1, int(round(scale * 2)))
    cv2.putText(img, text, origin, FONT, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(img, text, origin, FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return img


def label(image, text: str) -> np.ndarray:
    """The image with a caption band above it."""
    img = to_uint8(image)
    W = img.shape[1]
    scale = float(np.clip(W / 700, 0.4, 0.8))
    (tw, th), base = cv2.getTextSize(text, FONT, scale, 1)
    band = np.full((th + base + 8, W, 3), 32, np.uint8)
    cv2.putText(band, text, (4, th + 4), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate((band, img), axis=0)


def side_by_side(images, labels=None, gap: int = 4, background: int = 255) -> np.ndarray:
    """Images in a row (top-aligned), each optionally captioned. returns (H,W,3) uint8."""
    images = [to_uint8(x) for x in images]
    if labels is not None:
        if len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        images = [label(x, t) if t else x for x, t in zip(images, labels)]
    H = max(x.shape[0] for x in images)
    parts = []
    for k, x in enumerate(images):
        if k:
            parts.append(np.full((H, gap, 3), background, np.uint8))
        parts.append(np.pad(x, ((0, H - x.shape[0]), (0, 0), (0, 0)), constant_values=background))
    return np.concatenate(parts, axis=1)


def grid(images, labels=None, columns: int = 2, gap: int = 4, background: int = 255) -> np.ndarray:
    """Images in rows of `columns`, each optionally captioned. returns (H,W,3) uint8."""
    images = list(images)
    labels = list(labels) if labels is not None else [None] * len(images)
    rows = [side_by_side(images[i:i + columns], labels[i:i + columns], gap, background)
            for i in range(0, len(images), columns)]
    W = max(r.shape[1] for r in rows)
    out = []
    for k, r in enumerate(rows):
        if k:
            out.append(np.full((gap, W, 3), background, np.uint8))
        out.append(np.pad(r, ((0, 0), (0, W - r.shape[1]), (0, 0)), constant_values=background))
    return np.concatenate(out, axis=0)


def fit_width(image: np.ndarray, max_width: int) -> np.ndarray:
    """Shrink a picture for display only (never a model input) so it is at most `max_width` wide."""
    H, W = image.shape[:2]
    if not max_width or W <= max_width:
        return image
    return cv2.resize(image, (max_width, max(1, round(H * max_width / W))), interpolation=cv2.INTER_AREA)


def encode(image, fmt: str = "jpeg", quality: int = 90) -> bytes:
    """PNG or JPEG bytes of an image (for `ipywidgets.Image` or a file)."""
    bgr = cv2.cvtColor(to_uint8(image), cv2.COLOR_RGB2BGR)
    if fmt == "png":
        ok, buf = cv2.imencode(".png", bgr)
    elif fmt in ("jpeg", "jpg"):
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    else:
        raise ValueError(f"unknown image format {fmt!r}; use 'png' or 'jpeg'")
    if not ok:
        raise RuntimeError("image encoding failed")
    return buf.tobytes()


def save_image(image, path) -> Path:
    """Write an image as PNG or JPEG (by suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(image, "png" if path.suffix.lower() == ".png" else "jpeg"))
    return path


# ---- plots --------------------------------------------------------------------------------------
def plot_flow_coefficients(ax=None, n: int = 101):
    """Plot the t-dependent coefficients of the intermediate flows (paper eq. 4).

    They are read off `synthesis.intermediate_flows` with unit flows, not re-typed:
    Ft0 = a(t) F01 + b(t) F10 and Ft1 = c(t) F01 + d(t) F10.
    """
    import matplotlib.pyplot as plt
    if ax is None:
        ax = plt.subplots(figsize=(6, 3.5))[1]
    t = torch.linspace(0, 1, n).view(-1, 1, 1, 1)
    one, zero = torch.ones(n, 1, 1, 1), torch.zeros(n, 1, 1, 1)
    a, c = intermediate_flows(one, zero, t)
    b, d = intermediate_flows(zero, one, t)
    tt = t.flatten().numpy()
    for y, name, style in ((a, "Ft0: coefficient of F01", "-"), (b, "Ft0: coefficient of F10", "--"),
                           (c, "Ft1: coefficient of F01", "-"), (d, "Ft1: coefficient of F10", "--")):
        ax.plot(tt, y.flatten().numpy(), style, label=name)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("t")
    ax.set_ylabel("coefficient")
    ax.legend(fontsize=8)
    return ax


def plot_flow(flow, ax=None, title: str = None, max_norm: float = None):
    """Show a colour-coded flow with its colour wheel as an inset legend."""
    import matplotlib.pyplot as plt
    if ax is None:
        ax = plt.subplots(figsize=(6, 4))[1]
    if max_norm is None:
        max_norm = flow_magnitude(flow)
    ax.imshow(flow_to_color(flow, max_norm))
    inset = ax.inset_axes([0.0, 0.0, 0.22, 0.22 * ax.bbox.width / max(ax.bbox.height, 1)])
    inset.imshow(color_wheel(96, max_norm))
    inset.set_title(f"{max_norm:.1f} px", fontsize=7)
    inset.axis("off")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def read_scalars(run_dir) -> dict:
    """Every scalar a tensorboard(X) run logged: {tag: [(step, value), ...]} sorted by step.

    Reads the `events.out.tfevents.*` files under `run_dir` (TFRecord framing, Event protos)
    without TensorBoard installed.
    """
    import struct

    from tensorboardX.proto import event_pb2
    scalars = {}
    for f in sorted(Path(run_dir).rglob("events.out.tfevents.*")):
        data = f.read_bytes()
        pos = 0
        while pos + 12 <= len(data):
            (n,) = struct.unpack_from("<Q", data, pos)
            record = data[pos + 12:pos + 12 + n]
            pos += 12 + n + 4
            if len(record) < n:
                break  # a file still being written
            event = event_pb2.Event.FromString(record)
            for v in event.summary.value:
                if v.HasField("simple_value"):
                    scalars.setdefault(v.tag, []).append((int(event.step), float(v.simple_value)))
    return {k: sorted(v) for k, v in scalars.items()}


def plot_scalars(scalars: dict, tags, ax=None, smooth: int = 1):
    """Plot logged scalars (from `read_scalars`) against the step; `smooth` = moving-average window."""
    import matplotlib.pyplot as plt
    if ax is None:
        ax = plt.subplots(figsize=(6, 3.5))[1]
    for tag in tags:
        if tag not in scalars:
            continue
        steps, values = map(np.asarray, zip(*scalars[tag]))
        if smooth > 1 and len(values) >= smooth:
            values = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
            steps = steps[smooth - 1:]
        ax.plot(steps, values, label=tag)
    ax.set_xlabel("step")
    ax.legend(fontsize=8)
    return ax


# ---- videos in notebooks (browser-friendly copies: slomo.video.preview) ------------------------------------------------------------------------
def video_html(path, title: str = None, width: int = 400, embed_limit_mb: float = 40.0,
               relative_to=None) -> str:
    """An HTML5 <video> element for an MP4, with a caption and a link to the file.

    Files up to `embed_limit_mb` are embedded (works on hosted notebooks that do not serve local
    files); larger ones are referenced by path (relative to `relative_to`, e.g. the notebook folder).
    """
    path = Path(path)
    ref = Path(path)
    if relative_to is not None:
        try:
            ref = Path(path).resolve().relative_to(Path(relative_to).resolve())
        except ValueError:
            ref = Path(path).resolve()
    href = html.escape(ref.as_posix().replace(" ", "%20"))
    size_mb = path.stat().st_size / 1e6
    if size_mb <= embed_limit_mb:
        src = "data:video/mp4;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    else:
        src = href
    caption = html.escape(title or path.name)
    return (f'<figure style="display:inline-block;margin:4px;vertical-align:top">'
            f'<video src="{src}" width="{int(width)}" controls loop muted playsinline></video>'
            f'<figcaption>{caption} &middot; <a href="{href}" download>{html.escape(path.name)}</a>'
            f' ({size_mb:.1f} MB)</figcaption></figure>')


def videos_side_by_side(paths, titles=None, width: int = 400, **kw) -> str:
    """Several `video_html` elements in one row."""
    titles = titles or [None] * len(paths)
    return "<div>" + "".join(video_html(p, t, width, **kw) for p, t in zip(paths, titles)) + "</div>"
