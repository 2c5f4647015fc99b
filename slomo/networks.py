"""The U-Net that Super SloMo uses twice: once for flow, once for interpolation.

Layer names match the reference checkpoint (`conv1`, `down1.conv1`, ..., `conv3`), so its
state dicts load unchanged. Widths are the reference's (32 ... 512) times `width`. The layers'
inference paths (NNPACK convolutions, striped and polyphase decoder levels, with the same results)
live in `slomo.cpu.conv`.
"""
import torch
from torch import nn
from torch.nn import functional as F

from .cpu.conv import Conv2d, avg_pool2, fast_up

REFERENCE_WIDTHS = (32, 64, 128, 256, 512, 512)
LEAK = 0.1


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
        x = avg_pool2(x)
        x = F.leaky_relu(self.conv1(x), LEAK, inplace=True)
        return F.leaky_relu(self.conv2(x), LEAK, inplace=True)


class Up(nn.Module):
    """bilinear x2, conv 3x3, leaky; concatenate the skip; conv 3x3, leaky."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = Conv2d(cin, cout, 3, padding=1)
        self.conv2 = Conv2d(2 * cout, cout, 3, padding=1)

    def forward(self, x, skip):
        out = fast_up(self, x, skip, LEAK)  # inference on large maps: the same level, leaner
        if out is not None:
            return out
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = F.leaky_relu(self.conv1(x), LEAK, inplace=True)
        x = torch.cat((x, skip), dim=1)
        return F.leaky_relu(self.conv2(x), LEAK, inplace=True)


class UNet(nn.Module):
    """Five-level U-Net. Input H and W must be multiples of 32 (`slomo.padding.Padder`).

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
        """(convolution, level) for every convolution; at level l its maps are (H / 2^l, W / 2^l)."""
        yield from ((self.conv1, 0), (self.conv2, 0))
        for i, down in enumerate((self.down1, self.down2, self.down3, self.down4, self.down5), start=1):
            yield from ((down.conv1, i), (down.conv2, i))
        for i, up in enumerate((self.up1, self.up2, self.up3, self.up4, self.up5)):
            yield from ((up.conv1, 4 - i), (up.conv2, 4 - i))
        yield self.conv3, 0

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
