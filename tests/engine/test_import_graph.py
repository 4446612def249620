"""The engine's modules import each other one way only (issue #18, item 5).

Every import counts, including one inside a function: moving an import into a function hides a
cycle from Python's import machinery, not from the design."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import studio.engine

ENGINE = Path(studio.engine.__file__).parent
PACKAGE = "studio.engine"


def engine_imports(path: Path, modules: set[str]) -> set[str]:
    """The engine modules that `path` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                raise AssertionError(f"{path.name}: use absolute imports")
            # `from studio.engine import jobs` names modules; `from studio.engine.jobs import x`
            # names the module itself.
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name.startswith(PACKAGE + "."):
                module = name[len(PACKAGE) + 1 :].split(".")[0]
                if module in modules:
                    found.add(module)
    return found


def import_graph(folder: Path = ENGINE) -> dict[str, set[str]]:
    modules = {p.stem for p in folder.glob("*.py")}
    return {p.stem: engine_imports(p, modules) - {p.stem} for p in folder.glob("*.py")}


def test_engine_imports_form_no_cycle():
    graph = import_graph()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle in studio/engine: {' -> '.join(exc.args[1])}") from None
    # The layers the engine is built on (docs/engine.md): lower modules never reach up.
    assert order.index("store") < order.index("jobs") < order.index("poller")
    assert order.index("poller") < order.index("recovery") < order.index("tasks")


def test_the_checker_sees_a_cycle_hidden_in_a_function(tmp_path):
    """The test above would pass vacuously if it missed imports: feed it the old cycle."""
    (tmp_path / "store.py").write_text(
        "def later():\n    from studio.engine.poller import wake_poller\n"
    )
    (tmp_path / "poller.py").write_text("from studio.engine import jobs\n")
    (tmp_path / "jobs.py").write_text("from studio.engine.store import store_results\n")
    (tmp_path / "tasks.py").write_text("")
    (tmp_path / "recovery.py").write_text("")
    graph = import_graph(tmp_path)
    assert graph["store"] == {"poller"}
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError:
        return
    raise AssertionError("the cycle store -> poller -> jobs -> store was not found")
