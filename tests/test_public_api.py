"""The public API is explicit: every public module has ``__all__``, every class and
function named there has a docstring of its own, and so has every public method and
property of those classes (an override may inherit its base's, as autodoc shows it).

A module is public when no part of its dotted name (after ``fastxmpp``) starts with ``_``.
The API reference (docs/, ``./scripts/docs``) is generated from the same lists.
"""
from __future__ import annotations

import ast
import functools
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


# Public methods defined in these files may still lack a docstring: their owners are
# finishing them (issue 17).  Remove an entry when its file is done.
METHOD_DOCS_PENDING = (
    "fastxmpp/load/",                                      # the load runner
)


def _defined_in(cls) -> str:
    return cls.__module__.replace(".", "/") + ".py"


def _method_doc(cls, name: str, raw) -> str:
    """The docstring a reader sees for ``cls.name``: its own, else (for an override) that of
    the same name in a fastxmpp base class, as autodoc shows it."""
    fn = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
    doc = getattr(fn, "__doc__", None)
    if isinstance(doc, str) and doc.strip():
        return doc
    for base in cls.__mro__[1:]:
        if name in base.__dict__ and base.__module__.startswith("fastxmpp"):
            return _method_doc(base, name, base.__dict__[name])
    return ""


def _undocumented_methods(cls):
    """``Class.name`` of each public method (function, static or class method, property)
    that ``cls`` gets from a fastxmpp class without a docstring; those inherited from the
    standard library and dunders are not checked."""
    missing = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next((k for k in cls.__mro__ if name in k.__dict__), None)
        if owner is None or not owner.__module__.startswith("fastxmpp"):
            continue
        if _defined_in(owner).startswith(METHOD_DOCS_PENDING):
            continue
        raw = owner.__dict__[name]
        if not (inspect.isroutine(raw) or isinstance(raw, (property, functools.cached_property,
                                                           staticmethod, classmethod))):
            continue  # fields, constants, nested classes
        if not _method_doc(owner, name, raw):
            missing.append(f"{owner.__qualname__}.{name} ({_defined_in(owner)})")
    return missing


def _methods_missing_from_source(modname: str):
    tree = ast.parse(Path(importlib.util.find_spec(modname).origin).read_text(encoding="utf-8"))
    return [f"{node.name}.{item.name}" for node in tree.body if isinstance(node, ast.ClassDef)
            for item in node.body
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_")
            and not (ast.get_docstring(item) or "").strip()]


@pytest.mark.parametrize("modname", public_modules())
def test_public_methods_have_docstrings(modname):
    if modname in FROM_SOURCE:
        if not (modname.replace(".", "/") + ".py").startswith(METHOD_DOCS_PENDING):
            assert _methods_missing_from_source(modname) == []
        return
    mod = importlib.import_module(modname)
    missing = sorted({method for name in mod.__all__ if inspect.isclass(getattr(mod, name))
                      for method in _undocumented_methods(getattr(mod, name))})
    assert not missing, f"public methods reached from {modname} without a docstring: {missing}"


def test_the_method_check_finds_a_missing_docstring():
    class Documented:
        """A class."""

        def ok(self):
            """Does it."""

    class Undocumented(Documented):
        """A subclass."""

        def ok(self):  # inherits the docstring it overrides
            pass

        def bare(self):
            pass

        @property
        def value(self):
            return 1

    for cls in (Documented, Undocumented):
        cls.__module__ = "fastxmpp.example"
    assert _undocumented_methods(Documented) == []
    assert _undocumented_methods(Undocumented) == [
        "test_the_method_check_finds_a_missing_docstring.<locals>.Undocumented.bare (fastxmpp/example.py)",
        "test_the_method_check_finds_a_missing_docstring.<locals>.Undocumented.value (fastxmpp/example.py)"]


def test_the_walk_finds_the_drivers_and_the_features():
    found = set(public_modules())
    assert {"fastxmpp", "fastxmpp.aio", "fastxmpp.sync", "fastxmpp.load", "fastxmpp.im",
            "fastxmpp.xep", "fastxmpp.errors", "fastxmpp.load.locust"} <= found
    assert not [name for name in found if "._" in name]
