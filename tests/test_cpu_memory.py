"""slomo.cpu.memory: the memory settings happen only when asked for, and then as documented."""
import subprocess
import sys

import torch

from slomo import SuperSloMo
from slomo.cpu import memory


def in_a_fresh_process(code: str) -> list:
    """What `code` prints, run in a new Python process (so that nothing of this one's state counts)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          timeout=120).stdout.split()


def small():
    torch.manual_seed(0)
    return SuperSloMo(width=0.125).eval()


def test_interpolate_leaves_the_memory_format_and_the_allocator_alone():
    code = ("import torch; from slomo import SuperSloMo; from slomo.cpu import memory; "
            "m = SuperSloMo(width=0.125).eval(); x = torch.rand(1, 3, 40, 56); "
            "m.interpolate(x, x, 0.5, precision='fp32'); m.interpolate(x, x, 0.5, precision='bf16'); "
            "print(memory.keep_freed_memory.cache_info().currsize, m.interp.conv1.weight.is_contiguous())")
    assert in_a_fresh_process(code) == ["0", "True"]  # malloc untouched, weights still contiguous


def test_tune_for_conversion_sets_what_it_says():
    code = ("from slomo import SuperSloMo; from slomo.cpu import memory; m = SuperSloMo(width=0.125).eval(); "
            "memory.tune_for_conversion(m, 'fp32', 1080, 1920); a = memory.keep_freed_memory.cache_info().currsize; "
            "memory.tune_for_conversion(m, 'fp32', 352, 640); b = memory.keep_freed_memory.cache_info().currsize; "
            "print(a, b, m.interp.conv1.weight.is_contiguous())")
    assert in_a_fresh_process(code) == ["0", "1", "True"]  # large frames: no kept blocks; fp32: contiguous weights


def test_reduced_precision_puts_weights_and_inputs_in_channels_last():
    m = small()
    x = torch.rand(1, 3, 40, 56)
    plain = m.interpolate(x, x.flip(-1), 0.5, precision="bf16")
    memory.tune_for_conversion(m, "bf16", 40, 56)
    assert m.memory_format == torch.channels_last
    assert m.interp.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    tuned = m.interpolate(x, x.flip(-1), 0.5, precision="bf16")
    assert (tuned - plain).abs().max() < 0.02  # the same frames up to bf16 rounding
    memory.tune_for_conversion(m, "fp32", 40, 56)
    assert m.memory_format == torch.contiguous_format
