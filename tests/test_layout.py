"""The house: ``service/`` in rooms whose imports run one way, with no circle (issue 18).

Every ``import`` in ``service/`` is read from the source (module level and inside functions alike),
so a lazy import that runs back up is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

SERVICE = Path(__file__).resolve().parent.parent / "service"

# Rooms from the bottom up: a module may import its own room or a lower one, never a higher one.
# ``text`` and ``config`` are the ground floor every room may use.
FLOORS = {
    "service.text": 0,
    "service.config": 0,
    "service.backbone": 1,
    "service.engines": 2,
    "service.models": 3,
    "service.analyzer": 4,
    "service.frontends": 5,
    "service": 6,  # the public API and the entry points (__init__, __main__, distributed)
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SERVICE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor(module: str) -> int:
    room = max((r for r in FLOORS if module == r or module.startswith(r + ".")), key=len)
    return FLOORS[room]


def service_imports() -> dict[str, set[str]]:
    """Each service module -> the service modules it imports (``from service.x import y`` counts x, or x.y
    when that is a module)."""
    modules = {module_name(p): p for p in SERVICE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {t for t in targets if t in modules and t != name}
        graph[name] = found
    return graph


def test_service_has_at_most_ten_entries():
    entries = [p.name for p in SERVICE.iterdir() if p.name != "__pycache__"]
    assert len(entries) <= 10, sorted(entries)


def test_no_import_runs_back_up():
    upward = [
        f"{module} -> {target}"
        for module, targets in service_imports().items()
        for target in targets
        if floor(target) > floor(module)
    ]
    assert upward == []


def test_topics_and_summaries_do_not_know_each_other():
    graph = service_imports()
    crossing = [
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        for a, b in (("topics", "summaries"), ("summaries", "topics"))
        if module.startswith(f"service.models.{a}") and target.startswith(f"service.models.{b}")
    ]
    assert crossing == []


def circles_in(graph: dict[str, set[str]]) -> list[str]:
    """Every circle a depth-first walk of ``graph`` meets, as ``a -> b -> a``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    circles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                circles.append(" -> ".join(path[path.index(target) :] + [target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return circles


def test_no_circle():
    assert circles_in(service_imports()) == []


def test_the_circle_check_finds_the_circle_issue_18_removed():
    graph = service_imports()
    graph["service.models.summaries.features"] = graph["service.models.summaries.features"] | {
        "service.models.summaries.scorer"
    }  # the scorer <-> summariser circle, put back by hand
    assert any("service.models.summaries.scorer" in circle for circle in circles_in(graph))


def test_service_never_imports_training():
    offenders = [
        str(path.relative_to(SERVICE.parent))
        for path in SERVICE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "training")
        or (isinstance(node, ast.Import) and any(a.name.split(".")[0] == "training" for a in node.names))
    ]
    assert offenders == []


def test_the_layout_check_sees_a_circle_and_an_upward_import():
    """The checks above can fail: the graph holds the edges they look for."""
    graph = service_imports()
    assert "service.models.topics.classifier" in graph["service.analyzer"]
    assert floor("service.frontends.cli") > floor("service.analyzer") > floor("service.models.onnx")
    assert floor("service.engines.onnx") > floor("service.backbone.cache") > floor("service.text")
