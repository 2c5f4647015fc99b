import pytest
import torch

from slomo.warp import backward_warp


def test_zero_flow_is_identity(rng):
    img = torch.rand(2, 3, 13, 17, generator=rng)
    out = backward_warp(img, torch.zeros(2, 2, 13, 17))
    assert torch.allclose(out, img, atol=1e-6)


@pytest.mark.parametrize("dx,dy", [(3, 0), (0, -2), (2, 5), (-4, -1)])
def test_integer_shift_equals_roll(rng, dx, dy):
    H, W = 24, 31
    img = torch.rand(1, 3, H, W, generator=rng)
    flow = torch.zeros(1, 2, H, W)
    flow[:, 0], flow[:, 1] = dx, dy
    out = backward_warp(img, flow)
    # out(y, x) = img(y + dy, x + dx) = roll by (-dy, -dx) where it stays inside
    rolled = torch.roll(img, shifts=(-dy, -dx), dims=(2, 3))
    ys = slice(max(0, -dy), H - max(0, dy))
    xs = slice(max(0, -dx), W - max(0, dx))
    assert torch.allclose(out[..., ys, xs], rolled[..., ys, xs], atol=1e-5)
    # outside the image: zeros by default
    if dx > 0:
        assert torch.all(out[..., W - dx:] == 0)


def test_border_padding_repeats_edge(rng):
    img = torch.rand(1, 1, 5, 6, generator=rng)
    flow = torch.zeros(1, 2, 5, 6)
    flow[:, 0] = 10.0
    out = backward_warp(img, flow, padding_mode="border")
    assert torch.allclose(out, img[..., -1:].expand_as(img), atol=1e-6)


def test_half_pixel_is_average(rng):
    img = torch.rand(1, 3, 8, 8, generator=rng)
    flow = torch.zeros(1, 2, 8, 8)
    flow[:, 0] = 0.5
    out = backward_warp(img, flow)
    assert torch.allclose(out[..., :-1], 0.5 * (img[..., :-1] + img[..., 1:]), atol=1e-5)


def test_any_size_and_mismatch(rng):
    for H, W in [(1, 1), (9, 17), (70, 101)]:
        img = torch.rand(1, 3, H, W, generator=rng)
        assert backward_warp(img, torch.zeros(1, 2, H, W)).shape == img.shape
    with pytest.raises(ValueError, match="do not match"):
        backward_warp(torch.rand(1, 3, 8, 8), torch.zeros(1, 2, 8, 9))
