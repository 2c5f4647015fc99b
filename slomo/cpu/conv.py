"""The U-Net's inference paths: the same results as PyTorch's kernels, in less time or memory.

- `Conv2d`: `nn.Conv2d` (same parameters, same state-dict names) whose fp32 CPU inference runs
  NNPACK (`slomo.cpu.nnpack`), one item at a time, large maps in row stripes.
- `avg_pool2`: 2x2 average pooling, on contiguous CPU maps as two strided sums.
- `fast_up`: a decoder level without autograd in row stripes on large maps (any device: bounded
  temporaries at 1080p and 4K), or, with NNPACK, with its first convolution run on the coarse map as
  four phase convolutions (`polyphase_weights`), so the upsampled map never exists.
- `precompute_kernels`: the kernel transforms that inference keeps, computed ahead of time.
- `prefers_single_items`: where one (pair, t) item per network pass is fastest.

Training and autocast always use PyTorch's kernels. The measurements behind the thresholds below
are in docs/cpu-speed.md.
"""
import torch
from torch import nn
from torch.nn import functional as F

from . import nnpack

NNPACK_MIN_PIXELS = 512  # through PyTorch's NNPACK call: smaller maps keep PyTorch's default kernel
NNPACK_STRIPE_PIXELS = 1 << 18  # larger maps are convolved in stripes (bounded work buffers)
UP_STRIPE_PIXELS = 1 << 18  # no-grad decoder levels on larger maps run in row stripes (1080p and 4K memory)
POLYPHASE_MIN_PIXELS = 1 << 15  # decoder levels with outputs of at least this many pixels (320x176 and
POLYPHASE_MAX_INPUT = 128  # up) and at most this many input channels run as four phase convolutions
# bilinear x2 (align_corners=False) as taps: fine row 2i+r = sum over a of BILINEAR_TAPS[r][a+1] * coarse row i+a
BILINEAR_TAPS = ((0.25, 0.75, 0.0), (0.0, 0.75, 0.25))


def use_nnpack(x, weight, direct: bool = True) -> bool:
    """Whether a convolution of x (B,C,H,W) with `weight` should run through NNPACK: fp32 CPU
    inference (no autograd, no autocast). Called directly (`slomo.cpu.nnpack`), on every map of at
    least `nnpack.MIN_PIXELS`; through PyTorch's call (direct=False, or no direct entry point), on maps
    of at least NNPACK_MIN_PIXELS with at least 16 output channels."""
    direct = direct and nnpack.direct_available()
    return (x.device.type == "cpu" and x.dtype == weight.dtype == torch.float32
            and x.shape[-2] * x.shape[-1] >= (nnpack.MIN_PIXELS if direct else NNPACK_MIN_PIXELS)
            and (direct or weight.shape[0] >= 16)
            and not torch.is_autocast_enabled("cpu")
            and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))
            and nnpack.available())


def prefers_single_items(device: torch.device, precision: str) -> bool:
    """True where inference runs fastest one (pair, t) item per network pass: fp32 on a CPU with
    NNPACK (its batch-1 path)."""
    return device.type == "cpu" and precision == "fp32" and nnpack.available()


def _each_item(conv, x):
    """conv applied to each (1,C,H,W) item of x and concatenated: NNPACK's batch-1 inference path is
    its fast one."""
    out = [conv(x[i:i + 1]) for i in range(x.shape[0])]
    return out[0] if len(out) == 1 else torch.cat(out)


class Conv2d(nn.Conv2d):
    """`nn.Conv2d` (same parameters, same state-dict names) whose fp32 CPU inference runs NNPACK's
    FFT / Winograd convolution, equal to PyTorch's to ~1e-5 relative. Training, autocast and CUDA use
    the default kernels. Per layer: `conv.nnpack = False` switches NNPACK off, `conv.nnpack_direct =
    False` calls it through PyTorch (NNPACK's own algorithm, no kept kernel transforms).
    """
    nnpack = True
    nnpack_direct = True

    @property
    def kernel_cache(self) -> dict:
        """Where `slomo.cpu.nnpack` keeps this layer's kernel transforms (not part of the state dict)."""
        if "_nnpack_kept" not in self.__dict__:
            self.__dict__["_nnpack_kept"] = {}
        return self.__dict__["_nnpack_kept"]

    def _uses_nnpack(self, x) -> bool:
        return self.nnpack and self.stride == (1, 1) and use_nnpack(x, self.weight, self.nnpack_direct)

    def forward(self, x):
        if self._uses_nnpack(x):
            return _each_item(self._nnpack, x)
        return super().forward(x)

    def precompute_kernel(self, height: int, width: int) -> bool:
        """Compute now the NNPACK kernel transform that inference on (height, width) maps keeps
        (`slomo.cpu.nnpack`); True when one is kept."""
        x = self.weight.new_empty(1).expand(1, self.in_channels, height, width)  # shape only, no memory
        with torch.no_grad():
            return self._uses_nnpack(x) and nnpack.keep(self.weight, x.shape, self.padding, self.kernel_cache,
                                                         self.nnpack_direct)

    def rows(self, x):
        """The convolution of rows given with their halo: zero padding in columns only, so the
        output has 2 * padding fewer rows. Used by striped evaluation."""
        pad = (0, self.padding[1])
        if self._uses_nnpack(x):
            return _each_item(lambda xi: self._conv(xi, self.weight, self.bias, pad), x)
        return F.conv2d(x, self.weight, self.bias, self.stride, pad)

    def polyphase(self):
        """(Wp, bp, kept): this 3x3 convolution of a bilinearly x2-upsampled map as one convolution of
        the coarse map (`polyphase_weights`), recomputed when the weights change; `kept` holds Wp's
        kernel transform."""
        key = (self.weight.data_ptr(), self.weight._version, self.bias._version)
        entry = self.__dict__.get("_polyphase")
        if entry is None or entry[0] != key:
            entry = self.__dict__["_polyphase"] = (key, *polyphase_weights(self.weight, self.bias), {})
        return entry[1:]

    def _conv(self, x, weight, bias, padding, kept=None):
        """NNPACK convolution of x (1,C,H,W), as this layer calls it."""
        kept = self.kernel_cache if kept is None else kept
        return nnpack.conv2d(x, weight, bias, padding, kept, self.nnpack_direct)

    def _nnpack(self, x):
        """(1,C,H,W) -> (1,out,H,W). Large maps go in horizontal stripes of about
        NNPACK_STRIPE_PIXELS, so NNPACK's work buffers stay small (1080p and 4K memory)."""
        H, W = x.shape[-2:]
        ph, pw = self.padding
        rows = max(1, NNPACK_STRIPE_PIXELS // W)
        if H <= rows:
            return self._conv(x, self.weight, self.bias, self.padding)
        out = x.new_empty(1, self.out_channels, H, W)
        for r0 in range(0, H, rows):
            r1 = min(H, r0 + rows)
            a, b = max(0, r0 - ph), min(H, r1 + ph)  # input rows with the halo, zero rows beyond the image
            part = F.pad(x[:, :, a:b], (0, 0, a - (r0 - ph), (r1 + ph) - b))
            out[:, :, r0:r1] = self._conv(part, self.weight, self.bias, (0, pw))
        return out


def precompute_kernels(levels, height: int, width: int) -> int:
    """Compute now the NNPACK kernel transforms that fp32 CPU inference keeps, for (convolution, level)
    pairs whose maps are (height >> level, width >> level) (`UNet.levels`); returns how many. Done
    before helper processes are forked, they share them. The striped and polyphase decoder paths run
    only on maps larger than any whose kernel transform is kept, so they need nothing here."""
    return sum(conv.precompute_kernel(height >> level, width >> level) for conv, level in levels)


def avg_pool2(x):
    """2x2 average pooling of (B,C,H,W) with H and W even: `F.avg_pool2d(x, 2)`, on contiguous CPU
    maps written as two strided sums (the same to ~1e-7)."""
    if x.device.type != "cpu" or not x.is_contiguous():
        return F.avg_pool2d(x, 2)
    B, C, H, W = x.shape
    rows = x.view(B, C, H // 2, 2, W)
    y = (rows[:, :, :, 0] + rows[:, :, :, 1]).view(B, C, H // 2, W // 2, 2)
    return (y[..., 0] + y[..., 1]).mul_(0.25)


def polyphase_weights(weight, bias):
    """A 3x3 convolution of a bilinearly x2-upsampled map as one 3x3 convolution of the coarse map with
    four times the output channels, one per output phase (py, px), in `pixel_shuffle` order.

    weight: (O,I,3,3), bias: (O,) -> (4O,I,3,3), (4O,)
    Exact (up to rounding) away from the border, given the coarse map replicate-padded by one.
    """
    M = torch.zeros(2, 3, 3, dtype=torch.float64)  # M[p, a, d]: coarse offset a-1 in fine tap d-1, phase p
    for p in (0, 1):
        for d in (-1, 0, 1):
            q, r = divmod(p + d, 2)  # fine row 2i+p+d = 2(i+q)+r
            for a in (-1, 0, 1):
                if BILINEAR_TAPS[r][a + 1]:
                    M[p, q + a + 1, d + 1] += BILINEAR_TAPS[r][a + 1]
    W = torch.einsum("pad,qbe,oide->opqiab", M, M, weight.detach().double())
    return (W.reshape(-1, *weight.shape[1:]).to(weight.dtype).contiguous(),
            bias.detach().repeat_interleave(4).contiguous())


# ---- decoder levels: up = (conv1, conv2) computing
#      leaky(conv2(cat(leaky(conv1(bilinear_x2(x))), skip))) with leaky ReLU slope `slope` -----------
def fast_up(up, x, skip, slope: float):
    """Decoder level `up` on x (B,Cin,h,w) and skip (B,C,2h,2w) through a leaner path with the same
    result, or None where none applies: without autograd, on maps over UP_STRIPE_PIXELS, in row
    stripes (`up_striped`); in NNPACK inference on maps of at least POLYPHASE_MIN_PIXELS, with conv1 as
    four phase convolutions (`up_polyphase`)."""
    H, W = skip.shape[-2:]
    if H * W > UP_STRIPE_PIXELS and not torch.is_grad_enabled() and H > 8:
        return up_striped(up, x, skip, slope, rows=max(4, UP_STRIPE_PIXELS // (4 * W)))
    conv = up.conv1
    if (H * W >= POLYPHASE_MIN_PIXELS and conv.in_channels <= POLYPHASE_MAX_INPUT
            and conv.nnpack and use_nnpack(x, conv.weight, conv.nnpack_direct)):
        return up_polyphase(up, x, skip, slope)
    return None


def up_polyphase(up, x, skip, slope: float):
    """The level without the upsampled map: conv1 runs on the coarse map as four phase convolutions
    (`Conv2d.polyphase`) written straight into the concatenation; the one-pixel border, where the
    upsampling clamps but the convolution zero-pads, is computed directly. Same result to ~1e-5
    relative; NNPACK inference only."""
    conv, c = up.conv1, up.conv1.out_channels
    Wp, bp, kept = conv.polyphase()
    (B, _, h, w), (H, W) = x.shape, skip.shape[-2:]
    cat = skip.new_empty(B, 2 * c, H, W)
    cat[:, c:] = skip

    def up2(s):
        return F.interpolate(s, scale_factor=2, mode="bilinear", align_corners=False)

    for i in range(B):
        xi, out = x[i:i + 1], cat[i, :c]
        y = conv._conv(F.pad(xi, (1, 1, 1, 1), mode="replicate"), Wp, bp, (0, 0), kept)
        out.view(c, h, 2, w, 2).copy_(y.view(c, 2, 2, h, w).permute(0, 3, 1, 4, 2))
        out[:, :1] = F.conv2d(up2(xi[:, :, :2])[:, :, :2], conv.weight, conv.bias, padding=1)[0, :, :1]
        out[:, -1:] = F.conv2d(up2(xi[:, :, -2:])[:, :, -2:], conv.weight, conv.bias, padding=1)[0, :, -1:]
        out[:, :, :1] = F.conv2d(up2(xi[..., :2])[..., :2], conv.weight, conv.bias, padding=1)[0, ..., :1]
        out[:, :, -1:] = F.conv2d(up2(xi[..., -2:])[..., -2:], conv.weight, conv.bias, padding=1)[0, ..., -1:]
    F.leaky_relu(cat[:, :c], slope, inplace=True)
    return F.leaky_relu(up.conv2(cat), slope, inplace=True)


def _zero_rows(x, top: int, bottom: int):
    """x (B,C,H,W) with `top` and `bottom` rows of zeros added."""
    return F.pad(x, (0, 0, top, bottom)) if top or bottom else x


def up_striped(up, x, skip, slope: float, rows: int):
    """The level for output rows [a, b) at a time: its full-size temporaries (the upsampled input, the
    concatenation) never exist whole. conv2 needs conv1's rows [a-1, b+1), which need the upsampled
    rows [a-2, b+2); rows outside the image are the convolutions' zero padding."""
    h, H = x.shape[-2], skip.shape[-2]
    out = skip.new_empty(skip.shape[0], up.conv2.out_channels, *skip.shape[-2:])
    for a in range(0, H, rows):
        b = min(H, a + rows)
        lo, hi = max(0, a - 2), min(H, b + 2)
        # low-res rows for upsampled rows [lo, hi), one spare each side so the slice's own edge
        # clamping never reaches them (at the image's edges the clamping is the real one)
        la, lb = max(0, lo // 2 - 1), min(h, (hi - 1) // 2 + 2)
        u = F.interpolate(x[:, :, la:lb], scale_factor=2, mode="bilinear", align_corners=False)
        u = _zero_rows(u[:, :, lo - 2 * la:hi - 2 * la], lo - (a - 2), (b + 2) - hi)
        c = F.leaky_relu(up.conv1.rows(u), slope, inplace=True)  # conv1 rows [a-1, b+1)
        del u
        s0, s1 = max(0, a - 1), min(H, b + 1)
        c = torch.cat((c, _zero_rows(skip[:, :, s0:s1], s0 - (a - 1), (b + 1) - s1)), dim=1)
        if a == 0:
            c[:, :, :1] = 0  # conv1's row -1 is padding, not a computed row
        if b == H:
            c[:, :, -1:] = 0
        out[:, :, a:b] = F.leaky_relu(up.conv2.rows(c), slope, inplace=True)
    return out
