"""The generation contract, checked on the package's source with `ast` (no backend needed).

- No module outside `seq2seq/models/` reaches a model's private methods or attributes,
  and `seq2seq.decoding` reads nothing of a model's layers: it uses the public
  generation interface of `Seq2SeqModel` only.
- The import graph has no cycle between `seq2seq.models` and `seq2seq.decoding`.
- `seq2seq.arguments` and `seq2seq.conventions` import nothing of the package.
- The reserved ids, levels, cell and model names are bound in `seq2seq.conventions` only.

Each check is a function of the sources, and each is also run on a made-up package that
breaks it, so that a check that could never fail would be caught.
"""

from __future__ import annotations

import ast
from pathlib import Path

from seq2seq import conventions

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "seq2seq"
TESTS = Path(__file__).resolve().parents[1]

# What `seq2seq.decoding` must not read of a model: its layers and their internals.
MODEL_INTERNALS = {"encoder", "decoder", "shared_keys", "uses_feedback", "token_step", "prepare"}
# Names that `seq2seq.conventions` alone binds.
CONVENTIONS = {
    "PAD_ID",
    "START_ID",
    "END_ID",
    "UNK_ID",
    "LEVELS",
    "CELL_NAMES",
    "MODEL_NAMES",
    "MODEL_CLASS_NAMES",
}
CONVENTION_VALUES = (
    conventions.SPLIT_LEVELS,
    conventions.LEVELS,
    conventions.CELL_NAMES,
    conventions.MODEL_NAMES,
    tuple(conventions.MODEL_CLASS_NAMES.values()),
)


def read_package(root: Path = PACKAGE) -> dict[str, str]:
    """`{dotted module name: source}` of every module of the package under `root`."""
    sources = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        sources[".".join(parts)] = path.read_text(encoding="utf-8")
    return sources


def private_names_of_models(sources: dict[str, str]) -> set[str]:
    """The private methods and attributes that the classes of `seq2seq.models` define."""
    names = set()
    for module, source in sources.items():
        if not module.startswith("seq2seq.models"):
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                for item in ast.walk(node):
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        names.add(item.name)
                    elif isinstance(item, ast.Attribute) and isinstance(item.ctx, ast.Store):
                        names.add(item.attr)
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def private_accesses(sources: dict[str, str]) -> list[str]:
    """`module:line .name` for each use, outside `seq2seq.models`, of a model's private
    name on another object than `self` or `cls`, and each read of a model's layers in
    `seq2seq.decoding`."""
    private = private_names_of_models(sources)
    found = []
    for module, source in sources.items():
        if module.startswith("seq2seq.models"):
            continue
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Attribute):
                continue
            receiver = node.value.id if isinstance(node.value, ast.Name) else None
            if node.attr in private and receiver not in ("self", "cls"):
                found.append(f"{module}:{node.lineno} .{node.attr}")
            if module.startswith("seq2seq.decoding") and node.attr in MODEL_INTERNALS:
                found.append(f"{module}:{node.lineno} .{node.attr}")
    return found


def imports(module: str, source: str, modules: set[str]) -> set[str]:
    """The package's modules that `module` imports, at any depth of its code."""
    package = module if module in _packages(modules) else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from package import submodule` imports the submodule.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target:
                found.add(target)
    return found - {module}


def subpackage_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Edges between the package's parts: `seq2seq.models`, `seq2seq.decoding`, ...
    (a top-level module is a part of its own; the package's `__init__` is `seq2seq`)."""
    modules = set(sources)
    graph: dict[str, set[str]] = {}
    for module, source in sources.items():
        part = _part(module)
        edges = graph.setdefault(part, set())
        edges.update(_part(target) for target in imports(module, source, modules))
        edges.discard(part)
    return graph


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return False


def has_cycle_between(graph: dict[str, set[str]], first: str, second: str) -> bool:
    return reaches(graph, first, second) and reaches(graph, second, first)


def package_imports(sources: dict[str, str], module: str) -> set[str]:
    return imports(module, sources[module], set(sources))


def convention_rebindings(sources: dict[str, str]) -> list[str]:
    """`module NAME` for each module-level binding, outside `seq2seq.conventions`, of a
    convention's name, of an int to a name ending in `_ID`, or of a literal that spells
    a convention's names again (a tuple, list or set of them, or a dict keyed by them)."""
    spelled = {frozenset(value) for value in CONVENTION_VALUES}
    found = []
    for module, source in sources.items():
        if module == "seq2seq.conventions":
            continue
        for node in ast.parse(source).body:
            if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if not isinstance(target, ast.Name):
                    continue
                name, value = target.id, node.value
                is_id = name.endswith("_ID") and isinstance(value, ast.Constant)
                if name in CONVENTIONS or is_id or _strings_of(value) in spelled:
                    found.append(f"{module} {name}")
    return found


def _strings_of(node: ast.expr) -> frozenset | None:
    """The strings of a literal tuple, list or set, or the keys of a literal dict."""
    elements = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
    if not isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)) or not elements:
        return None
    if not all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in elements):
        return None
    return frozenset(e.value for e in elements)


def _packages(modules: set[str]) -> set[str]:
    return {module.rpartition(".")[0] for module in modules} - {""}


def _part(module: str) -> str:
    return ".".join(module.split(".")[:2])


# The package as it is -------------------------------------------------------------------


def test_no_private_model_access_outside_models():
    sources = read_package()
    assert {"_forward", "_bundle", "_initial_states"} <= private_names_of_models(sources)
    assert private_accesses(sources) == []


def test_the_tests_use_no_private_model_name():
    """The tests check the models through their public API and public layers only."""
    sources = read_package()
    tests = {
        ".".join(path.relative_to(TESTS).with_suffix("").parts): path.read_text(encoding="utf-8")
        for path in sorted(TESTS.rglob("*.py"))
    }
    assert len(tests) > 50
    found = private_accesses(
        {**tests, **{m: s for m, s in sources.items() if m.startswith("seq2seq.models")}}
    )
    assert found == []


def test_no_import_cycle_between_models_and_decoding():
    graph = subpackage_graph(read_package())
    assert "seq2seq.decoding" in graph["seq2seq.models"]  # `generate` delegates to decoding
    assert not has_cycle_between(graph, "seq2seq.models", "seq2seq.decoding")


def test_arguments_and_conventions_import_nothing_of_the_package():
    sources = read_package()
    assert package_imports(sources, "seq2seq.arguments") == set()
    assert package_imports(sources, "seq2seq.conventions") == set()


def test_conventions_are_defined_once():
    assert convention_rebindings(read_package()) == []


# The checks fail where they should -------------------------------------------------------

BROKEN = {
    "seq2seq": "from seq2seq.models import Model\n",
    "seq2seq.conventions": "PAD_ID = 0\n",
    "seq2seq.arguments": "from seq2seq.conventions import PAD_ID\n",
    "seq2seq.models": "from seq2seq.models.base import Model\n",
    "seq2seq.models.base": (
        "from seq2seq import decoding\n"
        "class Model:\n"
        "    def _forward(self, x):\n"
        "        self._cache = x\n"
        "        return self._forward(x)\n"
    ),
    "seq2seq.decoding": "from .generation import generate\n",
    "seq2seq.decoding.generation": (
        "from ..models import base\n"
        "START_ID = 1\n"
        "STOP_ID = 2\n"
        "NAMES = ('lstm', 'gru')\n"
        "CLASSES = {'gru': 1, 'lstm': 2}\n"
        "MODES = ('concat', 'sum')\n"
        "def generate(model, x):\n"
        "    model.decoder.shared_keys\n"
        "    return model._forward(x), model._cache\n"
    ),
}


def test_the_checks_catch_a_broken_package():
    assert private_names_of_models(BROKEN) == {"_forward", "_cache"}
    assert sorted(private_accesses(BROKEN)) == [
        "seq2seq.decoding.generation:8 .decoder",
        "seq2seq.decoding.generation:8 .shared_keys",
        "seq2seq.decoding.generation:9 ._cache",
        "seq2seq.decoding.generation:9 ._forward",
    ]
    graph = subpackage_graph(BROKEN)
    assert has_cycle_between(graph, "seq2seq.models", "seq2seq.decoding")
    assert package_imports(BROKEN, "seq2seq.arguments") == {"seq2seq.conventions"}
    assert convention_rebindings(BROKEN) == [
        "seq2seq.decoding.generation START_ID",
        "seq2seq.decoding.generation STOP_ID",
        "seq2seq.decoding.generation NAMES",
        "seq2seq.decoding.generation CLASSES",
    ]


def test_a_cycle_through_the_package_root_counts():
    sources = {
        "seq2seq": "from seq2seq.models import Model\n",
        "seq2seq.models": "import seq2seq.decoding.greedy\n",
        "seq2seq.decoding": "",
        "seq2seq.decoding.greedy": "from seq2seq import Model\n",
    }
    assert has_cycle_between(subpackage_graph(sources), "seq2seq.models", "seq2seq.decoding")
