"""The package's shape: dependencies point one way, and a build without proofs loads no proof or tool code."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "gen"

# Lowest first. A module may import from its own layer or a lower one, never from a higher one.
# The one exception is written where it happens: the pipeline imports gen.proofs inside a function, only
# when a build asks for rule tests (checked by test_a_build_without_proofs_loads_no_proof_synth_or_tool_code).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("gen", "gen.errors", "gen.units", "gen.write"),
    ("gen.spec",),
    ("gen.ir",),
    ("gen.promql",),
    ("gen.domains",),
    ("gen.render",),
    ("gen.checks",),
    ("gen.targets",),
    ("gen.synth",),
    ("gen.proofs",),
    ("gen.pipeline",),
    ("gen.tools",),
    ("gen.cli", "gen.__main__"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports(path: Path) -> list[tuple[str, bool]]:
    """(imported gen module, imported at module level?) for every import in the file."""
    tree = ast.parse(path.read_text())
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    for node in tree.body:  # `if TYPE_CHECKING:` blocks run at type-check time only
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            top_level -= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top_level) for a in node.names if a.name.split(".")[0] == "gen"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "gen":
                continue
            for alias in node.names:
                target = f"{source}.{alias.name}"
                found.append((target if is_module(target) else source, id(node) in top_level))
    return found


def graph(top_level_only: bool) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in sorted(GEN.rglob("*.py")):
        edges[module_name(path)] = {m for m, top in imports(path) if top or not top_level_only}
    return edges


def layer(module: str) -> int:
    best, rank = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank >= 0, f"{module} is in no layer of tests/test_architecture.py"
    return rank


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, done, path = [], set(), []

    def visit(node: str) -> None:
        if node in path:
            found.append(path[path.index(node):] + [node])
            return
        if node in done:
            return
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            visit(nxt)
        path.pop()
        done.add(node)

    for node in sorted(edges):
        visit(node)
    return found


def test_the_import_graph_has_no_cycles():
    # Function-level imports count too: a cycle hidden inside a function is still a cycle.
    assert cycles(graph(top_level_only=False)) == []


def test_dependencies_point_down_the_layers():
    upward = [f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
              for a, targets in graph(top_level_only=True).items() for b in sorted(targets) if layer(b) > layer(a)]
    assert upward == []


OFF_THE_COMPILE_PATH = ("gen.proofs", "gen.synth", "gen.tools")


def _off_path(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in OFF_THE_COMPILE_PATH)


def test_the_compile_path_reaches_proofs_only_through_the_pipelines_lazy_import():
    compile_path = [m for m in graph(top_level_only=False) if not _off_path(m) and layer(m) <= layer("gen.pipeline")]
    every = graph(top_level_only=False)
    top = graph(top_level_only=True)
    assert sorted((a, b) for a in compile_path for b in top[a] if _off_path(b)) == []
    assert sorted((a, b) for a in compile_path for b in every[a] if _off_path(b)) == [("gen.pipeline", "gen.proofs")]


def test_the_top_of_gen_holds_few_modules():
    modules = sorted(p.name for p in GEN.glob("*.py"))
    assert len(modules) <= 8, modules


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_a_build_without_proofs_loads_no_proof_synth_or_tool_code():
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from gen.pipeline import compile_specs\n"
        "compiled = compile_specs(Path('specs'), Path('.'), proofs=False)\n"
        "assert compiled.files and not any(p.startswith('tests/') for p in compiled.files)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'gen' or m.startswith('gen.'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout)
    assert "gen.domains.leak" in loaded and "gen.targets" in loaded  # it did compile
    assert [m for m in loaded if m.split(".")[:2] in (["gen", "proofs"], ["gen", "synth"], ["gen", "tools"])] == []


def test_a_build_with_proofs_loads_the_proof_generator():
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from gen.pipeline import compile_specs\n"
        "compiled = compile_specs(Path('specs'), Path('.'), proofs=True)\n"
        "assert all(out.test_file['tests'] for out in compiled.services)\n"
        "print('gen.proofs' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"
