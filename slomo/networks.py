"""The U-Net that Super SloMo uses twice: once for flow, once for interpolation.

Layer names match the reference checkpoint (`conv1`, `down1.conv1`, ..., `conv3`), so its
state dicts load unchanged. Widths are the reference's (32 ... 512) times `width`.
"""
import functools

import torch
from torch import nn
from torch.nn import functional as F

from . import nnpack

REFERENCE_WIDTHS = (32, 64, 128, 256, 512, 512)
LEAK = 0.1
NNPACK_MIN_PIXELS = 512  # measured: at 11x20 (the 1/32 level of 640x352) the default kernel wins
NNPACK_STRIPE_PIXELS = 1 << 18  # larger maps are convolved in stripes (bounded work buffers)
UP_STRIPE_PIXELS = 1 << 18  # no-grad decoder levels on larger maps run in row stripes (1080p and 4K memory)
POLYPHASE_MIN_PIXELS = 1 << 15  # measured (bench/README.md): upsample-then-conv is faster as four phase
POLYPHASE_MAX_INPUT = 128  # convolutions from 320x176 outputs up, with at most 128 input channels
# bilinear x2 (align_corners=False) as taps: fine row 2i+r = sum over a of BILINEAR_TAPS[r][a+1] * coarse row i+a
BILINEAR_TAPS = ((0.25, 0.75, 0.0), (0.0, 0.75, 0.25))


@functools.lru_cache(maxsize=None)
def nnpack_available() -> bool:
    """True when PyTorch was built with NNPACK and it initialises on this CPU (the call initialises it)."""
    try:
        return bool(torch._nnpack_available())
    except (AttributeError, RuntimeError):
        return False


def nnpack_started() -> bool:
    """True once this process has started a thread pool that a forked child would inherit without its
    threads (see `slomo.workers`): PyTorch's, used only where NNPACK cannot be called directly."""
    return nnpack.torch_pool_started()


def nnpack_conv(x, weight, bias, padding, cache=None):
    """NNPACK convolution of x (1,C,H,W) (`slomo.nnpack.conv2d`); `cache` keeps the kernel transform."""
    return nnpack.conv2d(x, weight, bias, padding, cache)


def _each_item(conv, x):
    """conv applied to each (1,C,H,W) item of x and concatenated: NNPACK's batch-1 inference path is
    its fast one."""
    out = [conv(x[i:i + 1]) for i in range(x.shape[0])]
    return out[0] if len(out) == 1 else torch.cat(out)


def use_nnpack(x, weight) -> bool:
    """Whether a convolution of x (B,C,H,W) with `weight` should run through NNPACK: fp32 CPU
    inference (no autograd, no autocast). Called directly (`slomo.nnpack`), NNPACK won on every layer
    but the tiniest maps; through PyTorch's call, on maps of at least NNPACK_MIN_PIXELS with at least
    16 output channels only (below that PyTorch's default kernel was as fast or faster here)."""
    direct = nnpack.direct_available()
    return (x.device.type == "cpu" and x.dtype == weight.dtype == torch.float32
            and x.shape[-2] * x.shape[-1] >= (nnpack.MIN_PIXELS if direct else NNPACK_MIN_PIXELS)
            and (direct or weight.shape[0] >= 16)
            and not torch.is_autocast_enabled("cpu")
            and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))
            and nnpack_available())


class Conv2d(nn.Conv2d):
    """`nn.Conv2d` (same parameters, same state-dict names) whose fp32 CPU inference runs
    NNPACK's FFT / Winograd convolution: 1.2-4x faster per layer than PyTorch's default kernels
    on an AVX2 CPU, equal to ~1e-5 relative (bench/README.md). Training, autocast and CUDA use the
    default kernels. Set `conv.nnpack = False` to switch it off for one layer.
    """
    nnpack = True

    @property
    def _kept(self) -> dict:
        """Where `slomo.nnpack` keeps this layer's kernel transforms (not part of the state dict)."""
        if "_nnpack_kept" not in self.__dict__:
            self.__dict__["_nnpack_kept"] = {}
        return self.__dict__["_nnpack_kept"]

    def forward(self, x):
        if self.nnpack and self.stride == (1, 1) and use_nnpack(x, self.weight):
            return _each_item(self._nnpack, x)
        return super().forward(x)

    def prepare(self, height: int, width: int) -> bool:
        """Compute now the NNPACK kernel transform that inference on (height, width) maps keeps
        (`slomo.nnpack`); True when one is kept."""
        x = self.weight.new_empty(1).expand(1, self.in_channels, height, width)  # shape only, no memory
        with torch.no_grad():
            return (self.nnpack and self.stride == (1, 1) and use_nnpack(x, self.weight)
                    and nnpack.keep(self.weight, x.shape, self.padding, self._kept))

    def rows(self, x):
        """The convolution of rows given with their halo: zero padding in columns only, so the
        output has 2 * padding fewer rows. Used by striped evaluation."""
        pad = (0, self.padding[1])
        if self.nnpack and self.stride == (1, 1) and use_nnpack(x, self.weight):
            return _each_item(lambda xi: nnpack_conv(xi, self.weight, self.bias, pad, self._kept), x)
        return F.conv2d(x, self.weight, self.bias, self.stride, pad)

    def _nnpack(self, x):
        """(1,C,H,W) -> (1,out,H,W). Large maps go in horizontal stripes of about
        NNPACK_STRIPE_PIXELS, so NNPACK's work buffers stay small (1080p and 4K memory)."""
        H, W = x.shape[-2:]
        ph, pw = self.padding
        rows = max(1, NNPACK_STRIPE_PIXELS // W)
        if H <= rows:
            return nnpack_conv(x, self.weight, self.bias, self.padding, self._kept)
        out = x.new_empty(1, self.out_channels, H, W)
        for r0 in range(0, H, rows):
            r1 = min(H, r0 + rows)
            a, b = max(0, r0 - ph), min(H, r1 + ph)  # input rows with the halo, zero rows beyond the image
            part = F.pad(x[:, :, a:b], (0, 0, a - (r0 - ph), (r1 + ph) - b))
            out[:, :, r0:r1] = nnpack_conv(part, self.weight, self.bias, (0, pw), self._kept)
        return out


def avg_pool2(x):
    """2x2 average pooling of (B,C,H,W) with H and W even: `F.avg_pool2d(x, 2)` to ~1e-7, written as
    two strided sums, which ran ~4x faster than PyTorch's CPU pooling kernel here (bench/README.md)."""
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


def _zero_rows(x, top: int, bottom: int):
    """x (B,C,H,W) with `top` and `bottom` rows of zeros added."""
    return F.pad(x, (0, 0, top, bottom)) if top or bottom else x


def unet_widths(width: float) -> tuple:
    """Channel widths for a width multiplier: 1.0 gives (32, 64, 128, 256, 512, 512)."""
    return tuple(max(1, int(round(c * width))) for c in REFERENCE_WIDTHS)


class Down(nn.Module):
    """avg-pool 2x2, then two k x k convolutions with leaky ReLU."""

    def __init__(self, cin: int, cout: int, k: int):
        super().__init__()
        self.conv1 = Conv2d(cin, cout, k, padding=k // 2)
        self.conv2 = Conv2d(cout, cout, k, padding=k // 2)

    def forward(self, x):
        x = avg_pool2(x) if x.device.type == "cpu" and x.is_contiguous() else F.avg_pool2d(x, 2)
        x = F.leaky_relu(self.conv1(x), LEAK, inplace=True)
        return F.leaky_relu(self.conv2(x), LEAK, inplace=True)


class Up(nn.Module):
    """bilinear x2, conv 3x3, leaky; concatenate the skip; conv 3x3, leaky.

    Without autograd, on maps over UP_STRIPE_PIXELS, the level runs in row stripes (same result):
    its full-size temporaries (the upsampled input, the concatenation) never exist whole.
    """

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = Conv2d(cin, cout, 3, padding=1)
        self.conv2 = Conv2d(2 * cout, cout, 3, padding=1)

    def forward(self, x, skip):
        H, W = skip.shape[-2:]
        if H * W > UP_STRIPE_PIXELS and not torch.is_grad_enabled() and H > 8:
            return self._striped(x, skip, rows=max(4, UP_STRIPE_PIXELS // (4 * W)))
        if (H * W >= POLYPHASE_MIN_PIXELS and self.conv1.in_channels <= POLYPHASE_MAX_INPUT
                and self.conv1.nnpack and use_nnpack(x, self.conv1.weight)):
            return self._polyphase(x, skip)
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = F.leaky_relu(self.conv1(x), LEAK, inplace=True)
        x = torch.cat((x, skip), dim=1)
        return F.leaky_relu(self.conv2(x), LEAK, inplace=True)

    def _polyphase(self, x, skip):
        """forward() without the upsampled map: conv1 runs on the coarse map as four phase
        convolutions (`polyphase_weights`) written straight into the concatenation; the one-pixel
        border, where the upsampling clamps but the convolution zero-pads, is computed directly.
        Same result to ~1e-5 relative; NNPACK inference only."""
        conv, c = self.conv1, self.conv1.out_channels
        key = (conv.weight.data_ptr(), conv.weight._version, conv.bias._version)
        if getattr(self, "_poly_key", None) != key:
            self._poly_weights, self._poly_key = polyphase_weights(conv.weight, conv.bias), key
        Wp, bp = self._poly_weights
        self.__dict__.setdefault("_poly_kept", {})  # Wp's kernel transform (slomo.nnpack)
        (B, _, h, w), (H, W) = x.shape, skip.shape[-2:]
        cat = skip.new_empty(B, 2 * c, H, W)
        cat[:, c:] = skip

        def up(s):
            return F.interpolate(s, scale_factor=2, mode="bilinear", align_corners=False)

        for i in range(B):
            xi, out = x[i:i + 1], cat[i, :c]
            y = nnpack_conv(F.pad(xi, (1, 1, 1, 1), mode="replicate"), Wp, bp, (0, 0), self._poly_kept)
            out.view(c, h, 2, w, 2).copy_(y.view(c, 2, 2, h, w).permute(0, 3, 1, 4, 2))
            out[:, :1] = F.conv2d(up(xi[:, :, :2])[:, :, :2], conv.weight, conv.bias, padding=1)[0, :, :1]
            out[:, -1:] = F.conv2d(up(xi[:, :, -2:])[:, :, -2:], conv.weight, conv.bias, padding=1)[0, :, -1:]
            out[:, :, :1] = F.conv2d(up(xi[..., :2])[..., :2], conv.weight, conv.bias, padding=1)[0, ..., :1]
            out[:, :, -1:] = F.conv2d(up(xi[..., -2:])[..., -2:], conv.weight, conv.bias, padding=1)[0, ..., -1:]
        F.leaky_relu(cat[:, :c], LEAK, inplace=True)
        return F.leaky_relu(self.conv2(cat), LEAK, inplace=True)

    def _striped(self, x, skip, rows: int):
        """forward() for output rows [a, b) at a time. conv2 needs conv1's rows [a-1, b+1), which need
        the upsampled rows [a-2, b+2); rows outside the image are the convolutions' zero padding."""
        h, H = x.shape[-2], skip.shape[-2]
        out = skip.new_empty(skip.shape[0], self.conv2.out_channels, *skip.shape[-2:])
        for a in range(0, H, rows):
            b = min(H, a + rows)
            lo, hi = max(0, a - 2), min(H, b + 2)
            # low-res rows for upsampled rows [lo, hi), one spare each side so the slice's own edge
            # clamping never reaches them (at the image's edges the clamping is the real one)
            la, lb = max(0, lo // 2 - 1), min(h, (hi - 1) // 2 + 2)
            u = F.interpolate(x[:, :, la:lb], scale_factor=2, mode="bilinear", align_corners=False)
            u = _zero_rows(u[:, :, lo - 2 * la:hi - 2 * la], lo - (a - 2), (b + 2) - hi)
            c = F.leaky_relu(self.conv1.rows(u), LEAK, inplace=True)  # conv1 rows [a-1, b+1)
            del u
            s0, s1 = max(0, a - 1), min(H, b + 1)
            c = torch.cat((c, _zero_rows(skip[:, :, s0:s1], s0 - (a - 1), (b + 1) - s1)), dim=1)
            if a == 0:
                c[:, :, :1] = 0  # conv1's row -1 is padding, not a computed row
            if b == H:
                c[:, :, -1:] = 0
            out[:, :, a:b] = F.leaky_relu(self.conv2.rows(c), LEAK, inplace=True)
        return out


class UNet(nn.Module):
    """Five-level U-Net. Input H and W must be multiples of 32.

    `leaky_head=True` keeps the reference's leaky ReLU after the last convolution (the
    pretrained weights depend on it). The head always runs in fp32, so flows keep
    sub-pixel precision under bf16 autocast.
    """

    def __init__(self, in_channels: int, out_channels: int, width: float = 1.0,
                 leaky_head: bool = True):
        super().__init__()
        c = unet_widths(width)
        self.leaky_head = leaky_head
        self.conv1 = Conv2d(in_channels, c[0], 7, padding=3)
        self.conv2 = Conv2d(c[0], c[0], 7, padding=3)
        self.down1 = Down(c[0], c[1], 5)
        self.down2 = Down(c[1], c[2], 3)
        self.down3 = Down(c[2], c[3], 3)
        self.down4 = Down(c[3], c[4], 3)
        self.down5 = Down(c[4], c[5], 3)
        self.up1 = Up(c[5], c[4])
        self.up2 = Up(c[4], c[3])
        self.up3 = Up(c[3], c[2])
        self.up4 = Up(c[2], c[1])
        self.up5 = Up(c[1], c[0])
        self.conv3 = Conv2d(c[0], out_channels, 3, padding=1)

    def levels(self):
        """(convolution, level) for every convolution; at level l its maps are (H / 2^l, W / 2^l).
        The decoder's polyphase and striped paths run only on maps larger than any whose kernel
        transform is kept, so they need no entry of their own."""
        yield from ((self.conv1, 0), (self.conv2, 0))
        for i, down in enumerate((self.down1, self.down2, self.down3, self.down4, self.down5), start=1):
            yield from ((down.conv1, i), (down.conv2, i))
        for i, up in enumerate((self.up1, self.up2, self.up3, self.up4, self.up5)):
            yield from ((up.conv1, 4 - i), (up.conv2, 4 - i))
        yield self.conv3, 0

    def prepare(self, height: int, width: int) -> int:
        """Compute now the NNPACK kernel transforms that fp32 CPU inference at (height, width), multiples
        of 32, keeps (before forking helper processes, which then share them); returns how many."""
        return sum(conv.prepare(height >> level, width >> level) for conv, level in self.levels())

    def forward(self, x):  # x: (B,C,H,W), H and W multiples of 32
        x = F.leaky_relu(self.conv2(F.leaky_relu(self.conv1(x), LEAK, inplace=True)), LEAK, inplace=True)
        skips = [x]
        for down in (self.down1, self.down2, self.down3, self.down4):
            x = down(x)
            skips.append(x)
        x = self.down5(x)
        for up in (self.up1, self.up2, self.up3, self.up4, self.up5):
            x = up(x, skips.pop())  # popped: each skip is freed once its level is done (memory)
        with torch.autocast(x.device.type, enabled=False):
            x = self.conv3(x.float())
        return F.leaky_relu(x, LEAK, inplace=True) if self.leaky_head else x
