"""Sphinx configuration of the fastxmpp documentation (``./scripts/docs`` builds it).

The API reference is generated here, at every build, from the package itself: one page per
public module (every module whose dotted name has no part starting with ``_``), listing the
names in its ``__all__``.  A new module appears without editing any page; a name that several
public modules re-export is documented once, in the module that defines it (or in the first
public module that exports it, when it is defined in a private one), and the others link there.
"""
from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import sys
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import fastxmpp  # noqa: E402
from sphinx.ext.autodoc.mock import mock  # noqa: E402

project = "fastxmpp"
author = "fastxmpp developers"
copyright = "fastxmpp developers"
release = fastxmpp.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
html_theme = "furo"
html_title = f"fastxmpp {release}"

# MyST: ```{directive} fences, ::: blocks, and anchors for headings down to ###.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# autodoc: members in __all__ order, signatures with their type hints, hints repeated in the
# description of each parameter that is documented.
autodoc_member_order = "bysource"
# a class shows its docstring and its __init__'s (where the clients name their own options)
autoclass_content = "both"
autodoc_typehints = "both"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {"show-inheritance": True}
# Annotations that name a public alias show the alias, linked to its entry, not its expansion
# (``JIDLike``, not ``str | JID``); the modules write ``from __future__ import annotations``,
# so autodoc sees the alias's name and maps it here.
autodoc_type_aliases = {"JIDLike": "~fastxmpp.jid.JIDLike"}
# Inside a union (``Optional[JIDLike]``) Sphinx writes such an alias with the repr of its
# placeholder, "TypeAliasForwardRef('~fastxmpp.jid.JIDLike')": make that repr the alias's name,
# as Sphinx writes the alias alone.
try:
    from sphinx.util.inspect import TypeAliasForwardRef
except ImportError:  # an older Sphinx without it
    pass
else:
    TypeAliasForwardRef.__repr__ = lambda self: str(self.name)  # type: ignore[method-assign]
# Importing fastxmpp.load.locust imports locust, which monkey-patches the process with gevent:
# the reference is built from a stand-in (locust is not a dependency of fastxmpp).
autodoc_mock_imports = ["locust", "gevent"]

# Warnings are errors (scripts/docs passes -W).  The build is offline (no intersphinx: CI has
# no network), so references to the standard library stay plain text: unresolved references
# are not checked (nitpicky off).  Two categories are silenced because their causes are in
# files that are included, not written, here: ``myst.xref_missing`` (relative links in the
# benchmark notes and the changelog point at repository files, not pages) and ``myst.header``
# (heading levels in those files).  Everything else, a docstring that is not valid
# reStructuredText or a module that fails to import included, stops the build.
nitpicky = False
suppress_warnings = ["myst.xref_missing", "myst.header"]

# The doctest builder runs the ```{doctest} blocks of the tutorial and the guides.  The
# ``>>>`` examples inside docstrings are shown, not run here: they assume their module's
# namespace.
doctest_global_setup = "import fastxmpp"
doctest_test_doctest_blocks = ""


# --------------------------------------------------------------------------
# The API reference, one generated page per public module


def public_modules() -> List[str]:
    names = ["fastxmpp"]
    for info in pkgutil.walk_packages(fastxmpp.__path__, "fastxmpp."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        names.append(info.name)
    return sorted(names)


def _kind(obj: object) -> str:
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if inspect.isroutine(obj):
        return "function"
    return "data"


def _homes(modules: Dict[str, object]) -> Dict[int, Tuple[str, str]]:
    """id(obj) -> (module, name) where each class or function exported somewhere is documented."""
    exporters: Dict[int, List[Tuple[str, str]]] = {}
    for modname, mod in modules.items():
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name, None)
            if inspect.isclass(obj) or inspect.isroutine(obj):
                exporters.setdefault(id(obj), []).append((modname, name))
    homes = {}
    for key, places in exporters.items():
        modname, name = places[0]
        obj = getattr(modules[modname], name)
        defined_in = getattr(obj, "__module__", None)
        own = [p for p in places if p[0] == defined_in]
        # the defining module, else the deepest exporter (fastxmpp.aio.client over fastxmpp.aio)
        homes[key] = own[0] if own else max(places, key=lambda p: (p[0].count("."), p[0]))
    return homes


def write_api_pages(app: object = None) -> None:
    out = HERE / "api" / "modules"
    out.mkdir(parents=True, exist_ok=True)
    modules = {name: importlib.import_module(name) for name in public_modules()}
    homes = _homes(modules)
    wanted = set()
    for modname, mod in modules.items():
        lines = [f"``{modname}``", "=" * (len(modname) + 4), "", f".. automodule:: {modname}",
                 "   :no-members:", ""]
        for name in getattr(mod, "__all__", ()):
            if not hasattr(mod, name):
                continue  # test_public_api reports a name in __all__ that is missing
            obj = getattr(mod, name)
            kind = _kind(obj)
            home = homes.get(id(obj))
            if home is not None and home != (modname, name):
                role = "class" if kind in ("class", "exception") else "func"
                lines += [f".. py:data:: {name}", "   :no-index:", "",
                          f"   Also available here; see :py:{role}:`{home[0]}.{home[1]}`.", ""]
                continue
            lines += [f".. auto{kind}:: {modname}.{name}"]
            if kind in ("class", "exception"):
                lines += ["   :members:"]
            if kind == "data":
                lines += ["   :no-value:"] if isinstance(obj, (dict, list, set, frozenset, tuple)) else []
            lines += [""]
        path = out / f"{modname}.rst"
        wanted.add(path.name)
        text = "\n".join(lines)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")   # unchanged pages keep their mtime
    for old in out.glob("*.rst"):
        if old.name not in wanted:
            old.unlink()


def _drop_type_docstring(app, what, name, obj, options, lines):
    """A constant without a ``#:`` comment would show its type's docstring (dict's, str's):
    show nothing instead."""
    if what in ("data", "attribute") and lines:
        doc = getattr(type(obj), "__doc__", None)
        own = inspect.cleandoc(doc).splitlines() if isinstance(doc, str) else []
        if [line.strip() for line in lines if line.strip()] == [line.strip() for line in own if line.strip()]:
            lines.clear()


def setup(app):
    app.connect("autodoc-process-docstring", _drop_type_docstring)


# The stand-ins stay for the whole build, not only while autodoc imports a module: Sphinx's
# source analyzer would otherwise import the real locust to read the source of a base class.
mock(autodoc_mock_imports).__enter__()
write_api_pages()
