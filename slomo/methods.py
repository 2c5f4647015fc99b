"""Interpolation methods by name: the model and the classical baselines, listed once.

Every method answers `method.interpolate(I0, I1, t) -> (B,T,3,H,W) float RGB in [0,1]`.
"""
from . import baselines
from .errors import InputError
from .pretrained import load

METHODS = ("superslomo", *baselines.BASELINES)  # the model first, then the classical baselines


def get_method(method, checkpoint=None, device=None, **overrides):
    """A method name (see METHODS; "superslomo" loads `checkpoint` with `slomo.load`, `overrides`
    being ModelConfig fields such as flip_ensemble=False), or an object with `.interpolate`,
    returned as it is."""
    if hasattr(method, "interpolate"):
        return method
    if method == "superslomo":
        return load(checkpoint, device, **overrides)
    if method in baselines.BASELINES:
        return baselines.get_method(method)
    raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def method_name(method) -> str:
    """The name a method goes by in results: its own, or its class's."""
    if isinstance(method, str):
        return method
    return getattr(method, "name", None) or type(method).__name__.lower()
