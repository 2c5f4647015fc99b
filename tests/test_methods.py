"""slomo.methods: one list of method names (and one of precisions), used by the library and the command line."""
import pytest

from slomo import InputError, SuperSloMo, methods, runtime, video
from slomo.baselines import BASELINES, Blend
from slomo.cli import build_parser


def test_one_list_serves_the_video_code_and_the_command_line():
    assert methods.METHODS == ("superslomo", "flow", "memc", "blend", "duplicate")
    assert video.METHODS is methods.METHODS
    sub = next(a for a in build_parser()._actions if a.choices and "convert" in a.choices).choices
    for command in ("convert", "evaluate"):
        method = next(a for a in sub[command]._actions if a.dest == "method")
        assert tuple(method.choices) == methods.METHODS
    precision = next(a for a in sub["convert"]._actions if a.dest == "precision")
    assert tuple(precision.choices) == runtime.PRECISIONS


def test_names_give_methods_and_objects_pass_through(tmp_path):
    for name in BASELINES:
        assert methods.get_method(name).name == name == methods.method_name(methods.get_method(name))
    blend = Blend()
    assert methods.get_method(blend) is blend
    path = SuperSloMo(width=0.125, flow="dis").save(tmp_path / "m.pt")
    model = methods.get_method("superslomo", str(path), "cpu")
    assert isinstance(model, SuperSloMo) and methods.method_name(model) == "superslomo"
    with pytest.raises(InputError, match="unknown method 'magic'; choose one of superslomo, flow"):
        methods.get_method("magic")
