import pytest
import torch

from slomo.networks import UNet, unet_widths


def test_reference_parameter_counts():
    flow, interp = UNet(6, 4), UNet(20, 5)
    assert sum(p.numel() for p in flow.parameters()) == 19_794_116
    assert sum(p.numel() for p in interp.parameters()) == 19_816_357


def test_reference_key_names_in_order():
    keys = list(UNet(6, 4).state_dict())
    assert len(keys) == 46
    assert keys[:4] == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"]
    assert keys[4:8] == [f"down1.conv{i}.{p}" for i in (1, 2) for p in ("weight", "bias")]
    assert keys[-2:] == ["conv3.weight", "conv3.bias"]
    assert "up5.conv2.weight" in keys


def test_compact_widths_and_shape():
    assert unet_widths(0.25) == (8, 16, 32, 64, 128, 128)
    net = UNet(20, 5, width=0.25)
    assert net(torch.rand(2, 20, 64, 96)).shape == (2, 5, 64, 96)


def test_leaky_head_passes_negatives_at_a_tenth():
    net = UNet(3, 1, width=0.25)
    torch.nn.init.zeros_(net.conv3.weight)
    torch.nn.init.constant_(net.conv3.bias, -1.0)
    assert torch.allclose(net(torch.rand(1, 3, 32, 32)), torch.full((1, 1, 32, 32), -0.1))
    net.leaky_head = False
    assert torch.allclose(net(torch.rand(1, 3, 32, 32)), torch.full((1, 1, 32, 32), -1.0))


def test_nnpack_inference_equals_default_kernels_and_training_is_untouched():
    from slomo.networks import Conv2d, nnpack_available, use_nnpack
    torch.manual_seed(0)
    net = UNet(20, 5, width=0.5).eval()
    x = torch.rand(2, 20, 64, 96)

    def run(flag):
        for m in net.modules():
            if isinstance(m, Conv2d):
                m.nnpack = flag
        with torch.no_grad():
            return net(x)

    fast, plain = run(True), run(False)
    assert torch.allclose(fast, plain, atol=1e-4, rtol=1e-4)
    w = net.conv1.weight
    with torch.no_grad():
        assert use_nnpack(x, w) == nnpack_available()  # inference on CPU fp32: the fast path
        assert not use_nnpack(x[..., :4, :8], w)  # tiny maps keep the default kernel
    assert not use_nnpack(x, w)  # training (weights need gradients) keeps autograd's kernels
    net.train()
    run(True)
    net(x).sum().backward()
    assert net.conv1.weight.grad is not None


def test_nnpack_stripes_equal_one_call(monkeypatch):
    import torch.nn.functional as F

    import slomo.networks as networks
    torch.manual_seed(0)
    x = torch.rand(2, 8, 70, 50)
    monkeypatch.setattr(networks, "NNPACK_STRIPE_PIXELS", 50 * 9)  # 8 stripes of 9 rows
    for k in (3, 5, 7):
        conv = networks.Conv2d(8, 16, k, padding=k // 2).eval()
        with torch.no_grad():
            assert torch.allclose(conv(x), F.conv2d(x, conv.weight, conv.bias, padding=k // 2), atol=1e-4)


@pytest.mark.parametrize("nnpack", [False, True])
def test_striped_decoder_levels_equal_whole_maps(monkeypatch, nnpack):
    import slomo.networks as networks
    torch.manual_seed(0)
    net = UNet(20, 5, width=0.5).eval()
    for m in net.modules():
        if isinstance(m, networks.Conv2d):
            m.nnpack = nnpack
    x = torch.randn(1, 20, 160, 64)
    with torch.no_grad():
        whole = net(x)
        monkeypatch.setattr(networks, "UP_STRIPE_PIXELS", 1)  # every level in stripes of 4 rows
        calls = []
        real = networks.Up._striped
        monkeypatch.setattr(networks.Up, "_striped", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
        striped = net(x)
    assert len(calls) == 5
    assert torch.allclose(striped, whole, atol=1e-4), (striped - whole).abs().max()
    with torch.enable_grad():  # training never stripes
        calls.clear()
        net(x.requires_grad_())
    assert not calls


def test_polyphase_weights_equal_upsample_then_conv_away_from_the_border():
    import torch.nn.functional as F

    from slomo.networks import polyphase_weights
    torch.manual_seed(0)
    x = torch.randn(1, 6, 9, 13)
    w, b = torch.randn(4, 6, 3, 3), torch.randn(4)
    direct = F.conv2d(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False), w, b, padding=1)
    Wp, bp = polyphase_weights(w, b)
    poly = F.pixel_shuffle(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), Wp, bp), 2)
    assert poly.shape == direct.shape
    assert torch.allclose(poly[..., 1:-1, 1:-1], direct[..., 1:-1, 1:-1], atol=1e-5)
    assert not torch.allclose(poly[..., :1, :], direct[..., :1, :], atol=1e-3)  # the border needs its own fix


def test_polyphase_decoder_levels_equal_upsampling(monkeypatch):
    import slomo.networks as networks
    if not networks.nnpack_available():
        pytest.skip("the polyphase path runs with NNPACK only")
    torch.manual_seed(0)
    net = UNet(20, 5, width=0.5).eval()
    x = torch.randn(2, 20, 96, 160)
    with torch.no_grad():
        monkeypatch.setattr(networks, "POLYPHASE_MIN_PIXELS", 1 << 40)
        plain = net(x)
        monkeypatch.setattr(networks, "POLYPHASE_MIN_PIXELS", 1)  # every decoder level
        monkeypatch.setattr(networks, "POLYPHASE_MAX_INPUT", 1 << 20)
        calls = []
        real = networks.Up._polyphase
        monkeypatch.setattr(networks.Up, "_polyphase", lambda self, *a: calls.append(1) or real(self, *a))
        poly = net(x)
    # the levels whose input map reaches NNPACK's minimum: up3 (12x20), up4, up5 when NNPACK is called
    # directly (64 pixels); up4, up5 through PyTorch's call (NNPACK_MIN_PIXELS)
    assert len(calls) == (3 if networks.nnpack.direct_available() else 2)
    assert torch.allclose(poly, plain, atol=1e-5), (poly - plain).abs().max()
    with torch.enable_grad():  # training keeps the plain upsampling
        calls.clear()
        net(x[:1].requires_grad_())
    assert not calls


def test_prepare_computes_the_kernel_transforms_inference_keeps(monkeypatch):
    from slomo import nnpack
    if not nnpack.direct_available():
        pytest.skip("NNPACK cannot be called directly here")
    torch.manual_seed(0)
    net = UNet(20, 5, width=0.5).eval()
    x = torch.randn(1, 20, 128, 192)
    # levels 2-4 (32x48 ... 8x12) have at most KEEP_MAX_PIXELS, levels 0-1 more, level 5 (4x6) is under
    # nnpack.MIN_PIXELS: down2-4 and up1-3, two convolutions each
    assert net.prepare(128, 192) == 12
    computed = []
    real = nnpack._call
    monkeypatch.setattr(nnpack, "_call", lambda algo, strategy, *a, **k: computed.append(strategy) or real(
        algo, strategy, *a, **k))
    with torch.no_grad():
        net(x)
    assert nnpack.REUSE in computed and nnpack.PRECOMPUTE not in computed  # everything kept was prepared
    assert net.prepare(128, 192) == 12 and nnpack.PRECOMPUTE not in computed  # and is not computed twice
