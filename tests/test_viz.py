"""Pictures: flow colours follow the wheel, maps keep their meaning, layouts keep every pixel."""
import math

import numpy as np
import pytest
import torch

from slomo import viz


def test_to_uint8_round_trips_frames(rng):
    frame = (torch.rand(1, 3, 9, 13, generator=rng) * 255).round() / 255
    img = viz.to_uint8(frame)
    assert img.shape == (9, 13, 3) and img.dtype == np.uint8
    assert torch.allclose(viz.to_tensor(img), frame, atol=1e-6)


def test_to_uint8_rejects_batches():
    with pytest.raises(ValueError):
        viz.to_uint8(torch.zeros(2, 3, 4, 4))


def test_zero_flow_is_white():
    assert np.all(viz.flow_to_color(torch.zeros(2, 5, 7)) == 255)


@pytest.mark.parametrize("angle", [0.0, 0.7, 2.0, -1.3, 3.0])
def test_flow_colour_matches_the_wheel(angle):
    """A uniform flow gets the colour the legend shows at the same direction and length."""
    size, max_norm = 101, 10.0
    r = 0.8
    flow = torch.zeros(2, 3, 3)
    flow[0], flow[1] = r * max_norm * math.cos(angle), r * max_norm * math.sin(angle)
    colour = viz.flow_to_color(flow, max_norm)[1, 1].astype(int)
    c = (size - 1) / 2
    x, y = round(c + r * c * math.cos(angle)), round(c + r * c * math.sin(angle))
    wheel = viz.color_wheel(size, max_norm)[y, x].astype(int)
    assert np.abs(colour - wheel).max() <= 12


def test_flow_colour_saturates_with_length_and_opposite_directions_differ():
    flow = torch.zeros(2, 1, 3)
    flow[0, 0] = torch.tensor([1.0, 5.0, -5.0])
    img = viz.flow_to_color(flow, max_norm=5).astype(int)
    assert img[0, 1].min() < img[0, 0].min()  # longer -> more saturated
    assert np.abs(img[0, 1] - img[0, 2]).sum() > 200  # right vs left


def test_flow_with_legend_keeps_size_and_draws_wheel():
    flow = torch.randn(2, 120, 160)
    out = viz.flow_with_legend(flow)
    assert out.shape == (120, 160, 3)
    assert not np.array_equal(out[4:30, 4:30], viz.flow_to_color(flow)[4:30, 4:30])


def test_visibility_heatmap_orders_values():
    V = torch.linspace(0, 1, 11).view(1, 1, 11)
    img = viz.visibility_heatmap(V).astype(int)
    assert img.shape == (1, 11, 3)
    lum = img[0].sum(-1)
    assert lum[-1] > lum[0]  # viridis: dark purple (0) to yellow (1)


def test_difference_is_black_for_equal_images_and_brighter_for_larger_errors(rng):
    a = torch.rand(3, 8, 8, generator=rng)
    assert np.all(viz.difference(a, a) == viz.difference(a, a)[0, 0])
    b = a.clone()
    b[:, :, :4] = (b[:, :, :4] + 0.2).clamp(0, 1)
    d = viz.difference(a, b).astype(int).sum(-1)
    assert d[:, :4].mean() > d[:, 4:].mean()
    with pytest.raises(ValueError):
        viz.difference(a, torch.rand(3, 8, 9))


def test_side_by_side_and_grid_keep_every_image():
    imgs = [np.full((10, 20, 3), v, np.uint8) for v in (10, 20, 30)]
    row = viz.side_by_side(imgs, gap=2)
    assert row.shape == (10, 64, 3)
    assert np.all(row[:, 22:42] == 20)
    g = viz.grid(imgs, columns=2, gap=2)
    assert g.shape == (22, 42, 3)
    assert np.all(g[12:, :20] == 30)
    labelled = viz.side_by_side(imgs, ["a", "b", "c"])
    assert labelled.shape[0] > 10


def test_encode_png_is_lossless(tmp_path):
    import cv2
    img = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    path = viz.save_image(img, tmp_path / "x.png")
    back = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    assert np.array_equal(back, img)


def test_flow_coefficients_plot_matches_the_paper_at_half():
    import matplotlib
    matplotlib.use("Agg")
    ax = viz.plot_flow_coefficients(n=3)
    values = {line.get_label(): line.get_ydata()[1] for line in ax.get_lines() if "coefficient" in line.get_label()}
    # eq. 4 at t = 0.5: Ft0 = -1/4 F01 + 1/4 F10, Ft1 = 1/4 F01 - 1/4 F10
    assert values == pytest.approx({"Ft0: coefficient of F01": -0.25, "Ft0: coefficient of F10": 0.25,
                                    "Ft1: coefficient of F01": 0.25, "Ft1: coefficient of F10": -0.25})


def test_video_html_embeds_small_files_and_links_large_ones(tmp_path):
    f = tmp_path / "my clip.mp4"
    f.write_bytes(b"\0" * 1000)
    small = viz.video_html(f, relative_to=tmp_path)
    assert "data:video/mp4;base64," in small and 'href="my%20clip.mp4"' in small
    large = viz.video_html(f, embed_limit_mb=0.0001, relative_to=tmp_path)
    assert 'src="my%20clip.mp4"' in large


def test_read_scalars_reads_what_tensorboardx_wrote(tmp_path):
    from tensorboardX import SummaryWriter
    w = SummaryWriter(str(tmp_path))
    for s in range(5):
        w.add_scalar("train/loss", 1.0 / (s + 1), s)
        if s % 2 == 0:
            w.add_scalar("val/psnr", 30.0 + s, s)
    w.close()
    sc = viz.read_scalars(tmp_path)
    assert [s for s, _ in sc["train/loss"]] == [0, 1, 2, 3, 4]
    assert sc["train/loss"][3][1] == pytest.approx(0.25)
    assert sc["val/psnr"] == [(0, 30.0), (2, 32.0), (4, 34.0)]
