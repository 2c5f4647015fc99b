"""slomo.cpu.nnpack: NNPACK's inference convolution called directly equals PyTorch's."""
import subprocess
import sys

import pytest
import torch
from torch.nn import functional as F

from slomo.cpu import nnpack

pytestmark = pytest.mark.skipif(not nnpack.direct_available(), reason="NNPACK cannot be called directly here")


def close(a, b):
    return torch.allclose(a, b, atol=1e-4 * b.abs().max().item(), rtol=0)


@pytest.mark.parametrize("k", [3, 5, 7])
@pytest.mark.parametrize("size", [(9, 13), (40, 70), (190, 200)])  # Winograd below FT16_MIN_PIXELS, FFT above
def test_conv2d_equals_torch_at_odd_sizes(k, size):
    torch.manual_seed(0)
    x, w, b = torch.randn(1, 6, *size), torch.randn(10, 6, k, k), torch.randn(10)
    for pad in [(k // 2, k // 2), (0, k // 2)]:  # the stripes' padding: columns only
        assert close(nnpack.conv2d(x, w, b, pad), F.conv2d(x, w, b, padding=pad))


def test_the_algorithm_follows_the_map_size():
    assert nnpack.algorithm(3, nnpack.FT16_MIN_PIXELS - 1) == nnpack.WT8X8
    assert nnpack.algorithm(3, nnpack.FT16_MIN_PIXELS) == nnpack.FT16X16
    assert nnpack.algorithm(7, 100) == nnpack.FT16X16


def test_the_kept_transform_is_reused_and_follows_the_weights():
    torch.manual_seed(0)
    x, w, b = torch.randn(1, 8, 20, 24), torch.randn(16, 8, 3, 3), torch.randn(16)  # 480 pixels: kept
    cache = {}
    y1 = nnpack.conv2d(x, w, b, (1, 1), cache)
    (entry,) = cache.values()
    assert entry[0] is w and close(y1, F.conv2d(x, w, b, padding=1))
    assert close(nnpack.conv2d(x, w, b, (1, 1), cache), y1)
    assert list(cache.values())[0][2] is entry[2]  # the same buffer: not computed again
    w.mul_(-2)  # changed in place (as loading a state dict does): the transform is made again
    assert close(nnpack.conv2d(x, w, b, (1, 1), cache), F.conv2d(x, w, b, padding=1))
    other = torch.randn(16, 8, 3, 3)  # another tensor (a new polyphase weight, say)
    assert close(nnpack.conv2d(x, other, b, (1, 1), cache), F.conv2d(x, other, b, padding=1))


def test_transforms_are_kept_on_small_maps_only():
    torch.manual_seed(0)
    w, b = torch.randn(8, 4, 3, 3), torch.randn(8)
    side = int(nnpack.KEEP_MAX_PIXELS ** 0.5)
    small, large = torch.randn(1, 4, side, side), torch.randn(1, 4, side + 1, side)
    cache = {}
    assert close(nnpack.conv2d(large, w, b, (1, 1), cache), F.conv2d(large, w, b, padding=1))
    assert cache == {}
    nnpack.conv2d(small, w, b, (1, 1), cache)
    assert len(cache) == 1


def test_two_threads_give_the_same_result():
    torch.manual_seed(0)
    x, w, b = torch.randn(1, 16, 64, 96), torch.randn(32, 16, 3, 3), torch.randn(32)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = nnpack.conv2d(x, w, b, (1, 1))
        torch.set_num_threads(2)
        two = nnpack.conv2d(x, w, b, (1, 1))
    finally:
        torch.set_num_threads(threads)
    assert close(one, two)


def test_pytorchs_call_serves_where_nnpack_is_not_called_directly():
    torch.manual_seed(0)
    x, w, b = torch.randn(1, 4, 30, 30), torch.randn(16, 4, 5, 5), torch.randn(16)
    cache = {}
    assert close(nnpack.conv2d(x, w, b, (2, 2), cache, direct=False), F.conv2d(x, w, b, padding=2))
    assert cache == {}  # PyTorch's call keeps nothing
    assert not nnpack.keep(w, x.shape, (2, 2), cache, direct=False)


def test_only_pytorchs_call_starts_pytorchs_thread_pool():
    code = ("import torch; from slomo.cpu import nnpack; x, w, b = torch.randn(1, 4, 30, 30), torch.randn(16, 4, 5, 5), "
            "torch.randn(16); nnpack.conv2d(x, w, b, (2, 2)); a = nnpack.torch_pool_started(); "
            "nnpack.conv2d(x, w, b, (2, 2), direct=False); print(a, nnpack.torch_pool_started())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["False", "True"]


def test_anything_but_one_fp32_cpu_map_is_refused():
    w, b = torch.randn(16, 4, 3, 3), torch.randn(16)
    for x in (torch.randn(2, 4, 8, 8), torch.randn(1, 4, 8, 8).double(), torch.randn(4, 8, 8),
              torch.randn(1, 3, 8, 8)):
        with pytest.raises(ValueError, match="one fp32 CPU map"):
            nnpack.conv2d(x, w, b, (1, 1))
    x = torch.randn(1, 4, 8, 8)
    for args in ((w, b[:8], (1, 1)), (w, b, (3, 1)), (w.double(), b, (1, 1))):
        with pytest.raises(ValueError, match="one fp32 CPU map"):
            nnpack.conv2d(x, *args)
