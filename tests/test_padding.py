"""slomo.padding.Padder: pad to multiples of 32 by repeating the edge, crop back exactly."""
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from slomo import Padder


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 80), st.integers(1, 80))
def test_pads_to_the_next_multiple_of_32_and_crops_back(H, W):
    x = torch.rand(2, 3, H, W)
    padder = Padder(x.shape)
    (p,) = padder.pad(x)
    assert p.shape[-2] % 32 == 0 and p.shape[-1] % 32 == 0
    assert H <= p.shape[-2] < H + 32 and W <= p.shape[-1] < W + 32
    assert padder.padded_size == tuple(p.shape[-2:])
    assert torch.equal(padder.unpad(p), x)
    assert torch.equal(p[..., H:, :W], x[..., -1:, :].expand(-1, -1, p.shape[-2] - H, -1))  # bottom: last row
    assert torch.equal(p[..., :H, W:], x[..., :, -1:].expand(-1, -1, -1, p.shape[-1] - W))  # right: last column


def test_aligned_maps_are_neither_copied_nor_cropped():
    x = torch.rand(1, 2, 64, 96)
    padder = Padder((64, 96))
    a, b = padder.pad(x, x + 1)
    assert a is x and b.shape == x.shape
    assert padder.unpad(a) is not None and padder.unpad(a).data_ptr() == x.data_ptr()


def test_unpad_crops_any_leading_dimensions():
    padder = Padder((33, 40))
    y = torch.rand(2, 5, 1, 64, 64)  # (B,T,C,H32,W32)
    assert padder.unpad(y).shape == (2, 5, 1, 33, 40)
