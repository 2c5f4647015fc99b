"""The layout docs/architecture.md describes, read from the code: who imports whom, and sizes."""
import ast

from conftest import REPO

PACKAGE = REPO / "slomo"
# the model side: networks, synthesis and the model, the CPU paths, loading, methods and evaluation
MODEL_SIDE = {"errors", "files", "ffmpeg_binary", "config", "flow", "warp", "synthesis", "metrics", "runtime", "padding",
              "networks", "cpu", "cpu.nnpack", "cpu.conv", "cpu.memory", "checkpoint", "model", "pretrained",
              "baselines", "methods", "evaluate"}
VIDEO_DATA_TRAINING = {"video", "video.ffmpeg", "video.helpers", "video.scenes", "data", "data.footage", "train", "losses"}
MAX_FUNCTION_LINES, MAX_MODULE_LINES = 80, 450


def _modules() -> dict:
    """module name below slomo ("cpu.conv") -> its file"""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path, modules: dict) -> set:
    """The slomo modules that `name` imports anywhere in its file, inside functions too."""
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
    return {m for m in found if m in modules and m != name}


def test_the_model_side_imports_nothing_from_video_data_or_training():
    modules = _modules()
    assert MODEL_SIDE <= set(modules) and VIDEO_DATA_TRAINING <= set(modules)
    for name in sorted(MODEL_SIDE):
        wrong = _imports(name, modules[name], modules) - MODEL_SIDE
        assert not wrong, f"slomo.{name} imports {sorted(wrong)}"


def test_no_import_circle_on_the_model_side():
    modules = _modules()
    graph = {name: _imports(name, modules[name], modules) for name in MODEL_SIDE}
    done, path = set(), []

    def visit(name):
        if name in path:
            raise AssertionError("import circle: " + " -> ".join(path[path.index(name):] + [name]))
        if name in done:
            return
        path.append(name)
        for dep in sorted(graph[name] & graph.keys()):
            visit(dep)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_model_side_functions_and_modules_are_short():
    modules = _modules()
    for name in sorted(MODEL_SIDE):
        text = modules[name].read_text()
        assert len(text.splitlines()) <= MAX_MODULE_LINES, f"slomo.{name} has {len(text.splitlines())} lines"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                assert lines <= MAX_FUNCTION_LINES, f"slomo.{name}.{node.name} has {lines} lines"
