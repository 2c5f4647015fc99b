"""slomo.cpu.conv: the U-Net's inference paths give what PyTorch's kernels give."""
import pytest
import torch
import torch.nn.functional as F

from slomo.cpu import conv, nnpack
from slomo.networks import UNet


def _set(net, **flags):
    for m in net.modules():
        if isinstance(m, conv.Conv2d):
            for k, v in flags.items():
                setattr(m, k, v)


def test_nnpack_inference_equals_default_kernels_and_training_is_untouched():
    torch.manual_seed(0)
    net = UNet(20, 5, width=0.5).eval()
    x = torch.rand(2, 20, 64, 96)

    def run(**flags):
        _set(net, **flags)
        with torch.no_grad():
            return net(x)

    plain = run(nnpack=False)
    assert torch.allclose(run(nnpack=True), plain, atol=1e-4, rtol=1e-4)
    assert torch.allclose(run(nnpack=True, nnpack_direct=False), plain, atol=1e-4, rtol=1e-4)  # PyTorch's call
    _set(net, nnpack_direct=True)
    w = net.conv1.weight
    with torch.no_grad():
        assert conv.use_nnpack(x, w) == nnpack.available()  # inference on CPU fp32: the fast path
        assert not conv.use_nnpack(x[..., :4, :8], w)  # tiny maps keep the default kernel
    assert not conv.use_nnpack(x, w)  # training (weights need gradients) keeps autograd's kernels
    net.train()
    run(nnpack=True)
    net(x).sum().backward()
    assert net.conv1.weight.grad is not None


def test_nnpack_stripes_equal_one_call(monkeypatch):
    torch.manual_seed(0)
    x = torch.rand(2, 8, 70, 50)
    monkeypatch.setattr(conv, "NNPACK_STRIPE_PIXELS", 50 * 9)  # 8 stripes of 9 rows
    for k in (3, 5, 7):
        layer = conv.Conv2d(8, 16, k, padding=k // 2).eval()
        with torch.no_grad():
            assert torch.allclose(layer(x), F.conv2d(x, layer.weight, layer.bias, padding=k // 2), atol=1e-4)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_avg_pool2_equals_pytorchs_pooling(layout):
    x = torch.rand(2, 5, 12, 18).contiguous(memory_format=layout)
    assert torch.allclose(conv.avg_pool2(x), F.avg_pool2d(x, 2), atol=1e-6)


@pytest.mark.parametrize("use_nnpack", [False, True])
def test_striped_decoder_levels_equal_whole_maps(monkeypatch, use_nnpack):
    torch.manual_seed(0)
    net = UNet(20, 5, width=0.5).eval()
    _set(net, nnpack=use_nnpack)
    x = torch.randn(1, 20, 160, 64)
    with torch.no_grad():
        whole = net(x)
        monkeypatch.setattr(conv, "UP_STRIPE_PIXELS", 1)  # every level in stripes of 4 rows
        calls = []
        real = conv.up_striped
        monkeypatch.setattr(conv, "up_striped", lambda *a, **k: calls.append(1) or real(*a, **k))
        striped = net(x)
    assert len(calls) == 5
    assert torch.allclose(striped, whole, atol=1e-4), (striped - whole).abs().max()
    with torch.enable_grad():  # training never stripes
        calls.clear()
        net(x.requires_grad_())
    assert not calls


def test_polyphase_weights_equal_upsample_then_conv_away_from_the_border():
    torch.manual_seed(0)
    x = torch.randn(1, 6, 9, 13)
    w, b = torch.randn(4, 6, 3, 3), torch.randn(4)
    direct = F.conv2d(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False), w, b, padding=1)
    Wp, bp = conv.polyphase_weights(w, b)
    poly = F.pixel_shuffle(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), Wp, bp), 2)
    assert poly.shape == direct.shape
    assert torch.allclose(poly[..., 1:-1, 1:-1], direct[..., 1:-1, 1:-1], atol=1e-5)
    assert not torch.allclose(poly[..., :1, :], direct[..., :1, :], atol=1e-3)  # the border needs its own fix


def test_polyphase_decoder_levels_equal_upsampling(monkeypatch):
    if not nnpack.available():
        pytest.skip("the polyphase path runs with NNPACK only")
    torch.manual_seed(0)
    net = UNet(20, 5, width=0.5).eval()
    x = torch.randn(2, 20, 96, 160)
    with torch.no_grad():
        monkeypatch.setattr(conv, "POLYPHASE_MIN_PIXELS", 1 << 40)
        plain = net(x)
        monkeypatch.setattr(conv, "POLYPHASE_MIN_PIXELS", 1)  # every decoder level
        monkeypatch.setattr(conv, "POLYPHASE_MAX_INPUT", 1 << 20)
        calls = []
        real = conv.up_polyphase
        monkeypatch.setattr(conv, "up_polyphase", lambda *a: calls.append(1) or real(*a))
        poly = net(x)
        net.up5.conv1.weight.mul_(-1)  # new weights: the phase kernels follow
        flipped = net(x)
        monkeypatch.setattr(conv, "POLYPHASE_MIN_PIXELS", 1 << 40)
        assert torch.allclose(flipped, net(x), atol=1e-5)
    # the levels whose input map reaches NNPACK's minimum: up3 (12x20), up4, up5 when NNPACK is called
    # directly (64 pixels); up4, up5 through PyTorch's call (NNPACK_MIN_PIXELS)
    assert len(calls) == 2 * (3 if nnpack.direct_available() else 2)
    assert torch.allclose(poly, plain, atol=1e-5), (poly - plain).abs().max()
    with torch.enable_grad():  # training keeps the plain upsampling
        calls.clear()
        net(x[:1].requires_grad_())
    assert not calls


def test_precompute_kernels_computes_what_inference_keeps():
    if not nnpack.direct_available():
        pytest.skip("NNPACK cannot be called directly here")
    torch.manual_seed(0)
    net = UNet(20, 5, width=0.5).eval()

    def kept():
        return [entry for layer, _ in net.levels() for entry in layer.kernel_cache.values()]

    # levels 2-4 (32x48 ... 8x12) have at most KEEP_MAX_PIXELS, levels 0-1 more, level 5 (4x6) is under
    # nnpack.MIN_PIXELS: down2-4 and up1-3, two convolutions each
    assert conv.precompute_kernels(net.levels(), 128, 192) == 12
    before = kept()
    assert len(before) == 12
    with torch.no_grad():
        net(torch.randn(1, 20, 128, 192))
    after = kept()
    assert len(after) == 12 and all(a is b for a, b in zip(before, after))  # inference computed nothing new
    assert conv.precompute_kernels(net.levels(), 128, 192) == 12  # and asking again computes nothing
    assert all(a is b for a, b in zip(before, kept()))


def test_one_item_per_pass_is_preferred_for_fp32_cpu_with_nnpack_only():
    cpu = torch.device("cpu")
    assert conv.prefers_single_items(cpu, "fp32") == nnpack.available()
    assert not conv.prefers_single_items(cpu, "bf16")
    assert not conv.prefers_single_items(torch.device("cuda"), "fp32")
