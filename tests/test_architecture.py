"""The layout docs/architecture.md describes, read from the code: who imports whom, and sizes."""
import ast

from conftest import REPO

PACKAGE = REPO / "slomo"
# the model side: networks, synthesis and the model, the CPU paths, loading, methods and evaluation
MODEL_SIDE = {"errors", "files", "ffmpeg_binary", "config", "flow", "warp", "synthesis", "metrics", "runtime",
              "padding", "networks", "occlusion", "cpu", "cpu.nnpack", "cpu.conv", "cpu.memory", "checkpoint", "model",
              "pretrained", "baselines", "methods", "evaluate", "bundled"}
# the layers, lowest first: a module imports modules of its own layer or of lower ones, never of a higher one
LAYERS = [
    ("model side", lambda m: m in MODEL_SIDE),
    ("pictures", lambda m: m == "viz"),
    ("video", lambda m: m == "video" or m.startswith("video.")),
    ("data", lambda m: m == "data" or m.startswith("data.")),
    ("training", lambda m: m in ("losses", "train") or m.startswith("train.")),
    ("face", lambda m: m in ("", "__main__", "cli", "widgets", "notebook")),
]
MAX_FUNCTION_LINES, MAX_MODULE_LINES = 80, 450


def _modules() -> dict:
    """module name below slomo ("cpu.conv"; "" for slomo itself) -> its file"""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path, modules: dict) -> set:
    """The slomo modules that `name` imports anywhere in its file, inside functions too, with the packages
    whose __init__ such an import runs (other than `name`'s own packages, which are being imported already)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            elif (node.module or "").startswith("slomo"):
                base = node.module[len("slomo."):] if "." in node.module else ""
            else:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}".lstrip(".")
                found.add(sub if sub in modules else base)
        elif isinstance(node, ast.Import):
            found.update(a.name[len("slomo."):] for a in node.names if a.name.startswith("slomo."))
    own = {".".join(name.split(".")[:k]) for k in range(len(name.split(".")) + 1)}
    implied = {".".join(m.split(".")[:k]) for m in found for k in range(1, m.count(".") + 1)}
    return {m for m in found | implied if m in modules and m not in own}


def _layer(name: str) -> int:
    return next(i for i, (_, member) in enumerate(LAYERS) if member(name))


def test_every_module_has_a_layer():
    lost = sorted(m for m in _modules() if not any(member(m) for _, member in LAYERS))
    assert not lost, f"modules on no layer (add them to LAYERS and docs/architecture.md): {lost}"


def test_no_module_imports_a_higher_layer():
    modules = _modules()
    assert MODEL_SIDE <= set(modules)
    for name in sorted(modules):
        for dep in sorted(_imports(name, modules[name], modules)):
            assert _layer(dep) <= _layer(name), (f"slomo.{name} ({LAYERS[_layer(name)][0]}) imports "
                                                 f"slomo.{dep} ({LAYERS[_layer(dep)][0]})")


def test_networks_and_synthesis_import_nothing_of_video_data_or_training():
    modules = _modules()
    for name in ("networks", "synthesis", "warp", "model"):
        assert all(_layer(d) == 0 for d in _imports(name, modules[name], modules)), name


def test_no_import_circle_anywhere():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    done, path = set(), []

    def visit(name):
        if name in path:
            raise AssertionError("import circle: " + " -> ".join(path[path.index(name):] + [name]))
        if name in done:
            return
        path.append(name)
        for dep in sorted(graph[name]):
            visit(dep)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_the_checks_see_imports_inside_functions_and_through_packages(tmp_path):
    code = tmp_path / "m.py"
    code.write_text("def f():\n    from ..video.ffmpeg import probe\n    from .. import runtime\n")
    modules = {"video": None, "video.ffmpeg": None, "runtime": None, "data.frames": None}
    assert _imports("data.frames", code, modules) == {"video", "video.ffmpeg", "runtime"}


def test_functions_and_modules_are_short():
    for name, path in sorted(_modules().items()):
        text = path.read_text()
        assert len(text.splitlines()) <= MAX_MODULE_LINES, f"slomo.{name} has {len(text.splitlines())} lines"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                assert lines <= MAX_FUNCTION_LINES, f"slomo.{name}.{node.name} has {lines} lines"
