"""The layers (docs/ARCHITECTURE.md): the base layer imports no app; the apps import
the base and, where they must, billing or mlmodels, never operations; operations reads
the apps; mlservice/ is configuration only; the engine imports no Django. Checked on
the source, so a new import that breaks a rule fails here, not in production."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [
    "core",
    "accounts",
    "billing",
    "mlmodels",
    "predictions",
    "webhooks",
    "monitoring",
    "operations",
    "mlservice",
]
# Who may import whom (besides itself and third-party code).
ALLOWED = {
    "core": set(),
    "accounts": {"core", "billing", "webhooks"},
    "billing": {"core"},
    "mlmodels": {"core", "billing", "accounts", "webhooks", "monitoring"},
    "predictions": {"core", "billing", "mlmodels", "webhooks", "monitoring"},
    # Below the job apps: they name their jobs to it (resource, id); it imports none.
    "webhooks": {"core"},
    # Monitoring sits below the apps that call it (mlmodels when a model is trained,
    # predictions after scoring): it may use the engine (mlmodels.ml), nothing else of them.
    "monitoring": {"core"},
    "operations": {"core", "accounts", "billing", "mlmodels", "predictions", "webhooks", "monitoring"},
    "mlservice": {
        "core",
        "accounts",
        "billing",
        "mlmodels",
        "predictions",
        "webhooks",
        "monitoring",
        "operations",
    },
}
# Packages that may import the Django-free engine although they may not import mlmodels.
ENGINE_USERS = {"monitoring"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def _imports(path: Path) -> list[tuple[str, ast.AST, bool]]:
    """(imported module, node, inside a function) for every project import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            in_function.update(id(child) for child in ast.walk(node) if child is not node)
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] in PACKAGES:
                found.append((name, node, id(node) in in_function))
    return found


MODULES = _modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_imports_only_the_layers_below(module):
    package = module.split(".")[0]
    for name, node, _ in _imports(MODULES[module]):
        target = name.split(".")[0]
        engine = package in ENGINE_USERS and (name == "mlmodels.ml" or name.startswith("mlmodels.ml."))
        assert target == package or target in ALLOWED[package] or engine, (
            f"{module} (line {node.lineno}) imports {name}: {package} may import only {sorted(ALLOWED[package])}"
        )


def test_no_project_import_hides_inside_a_function():
    # Django's AppConfig.ready() is where an app registers what needs its models
    # loaded: the one place an import inside a function is the rule, not a dodge.
    hidden = [
        f"{module}:{node.lineno} imports {name}"
        for module, path in MODULES.items()
        if path.name != "apps.py"
        for name, node, inside in _imports(path)
        if inside
    ]
    assert hidden == []


def test_the_module_graph_has_no_cycle():
    graph = {
        module: {name for name, _, _ in _imports(path) if name in MODULES and name != module}
        for module, path in MODULES.items()
    }
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the loop


def test_mlservice_holds_only_configuration():
    files = sorted(path.name for path in (ROOT / "mlservice").rglob("*.py"))
    assert files == ["__init__.py", "api_urls.py", "asgi.py", "settings.py", "urls.py", "wsgi.py"]


def test_the_drift_math_imports_no_django_and_no_app():
    for name in ("psi.py", "distributions.py", "sampling.py"):
        tree = ast.parse((ROOT / "monitoring" / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "level", 0) == 0:
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                for imported in names:
                    top = (imported or "").split(".")[0]
                    assert top != "django" and top not in PACKAGES or top == "monitoring", (
                        f"monitoring/{name} imports {imported}"
                    )


def test_the_engine_imports_no_django_and_no_app():
    for path in (ROOT / "mlmodels" / "ml").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "level", 0) == 0:
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                for name in names:
                    top = (name or "").split(".")[0]
                    assert top != "django" and (top not in PACKAGES or name.startswith("mlmodels.ml")), (
                        f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
                    )
