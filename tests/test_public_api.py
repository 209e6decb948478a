"""The public API is explicit: every public module has ``__all__``, and every class and
function named there has a docstring of its own.

A module is public when no part of its dotted name (after ``fastxmpp``) starts with ``_``.
The API reference (docs/, ``./scripts/docs``) is generated from the same lists.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import fastxmpp

# Importing it imports locust, which monkey-patches the test process with gevent: this
# module is checked from its source instead.
FROM_SOURCE = {"fastxmpp.load.locust"}


def public_modules():
    names = ["fastxmpp"]
    for info in pkgutil.walk_packages(fastxmpp.__path__, "fastxmpp.", onerror=lambda name: None):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return sorted(names)


def _own_doc(obj) -> str:
    """The object's own docstring: not one inherited, nor the one that dataclasses and
    named tuples write (``Name(field, ...)``)."""
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    if not isinstance(doc, str) or not doc.strip():
        return ""
    if inspect.isclass(obj):
        name = obj.__name__
        if doc.startswith(f"{name}(") and "\n" not in doc.strip():
            return ""  # generated from the fields
        if any(doc == getattr(base, "__doc__", None) for base in obj.__mro__[1:]):
            return ""
    return doc


def _missing_from_source(modname: str):
    path = Path(importlib.util.find_spec(modname).origin)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    all_ = None
    defs = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                all_ = ast.literal_eval(node.value)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs[node.name] = ast.get_docstring(node)
    assert all_ is not None, f"{modname} has no __all__"
    return [name for name in all_ if name in defs and not (defs[name] or "").strip()]


@pytest.mark.parametrize("modname", public_modules())
def test_public_module_has_all_and_docstrings(modname):
    if modname in FROM_SOURCE:
        assert _missing_from_source(modname) == []
        return
    mod = importlib.import_module(modname)
    assert (mod.__doc__ or "").strip(), f"{modname} has no module docstring"
    assert hasattr(mod, "__all__"), f"{modname} has no __all__"
    names = list(mod.__all__)
    assert len(names) == len(set(names)), f"{modname}.__all__ lists a name twice"
    absent = [name for name in names if not hasattr(mod, name)]
    assert not absent, f"{modname}.__all__ names what the module does not have: {absent}"
    undocumented = [
        name for name in names
        if (inspect.isclass(getattr(mod, name)) or inspect.isroutine(getattr(mod, name)))
        and not _own_doc(getattr(mod, name))
    ]
    assert not undocumented, f"public names of {modname} without a docstring: {undocumented}"


def test_the_walk_finds_the_drivers_and_the_features():
    found = set(public_modules())
    assert {"fastxmpp", "fastxmpp.aio", "fastxmpp.sync", "fastxmpp.load", "fastxmpp.im",
            "fastxmpp.xep", "fastxmpp.errors", "fastxmpp.load.locust"} <= found
    assert not [name for name in found if "._" in name]
