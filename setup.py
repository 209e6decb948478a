"""Build script: lists the Cython extensions; metadata lives in pyproject.toml.

Set FASTXMPP_NO_EXTENSIONS=1 (or build on an interpreter other than CPython)
to install the pure-Python twins only.  The extensions are built without debug
information (``-g0``, and stripped when linked on Linux), so wheels stay small;
set FASTXMPP_DEBUG_BUILD=1 to keep it (``-g``) for gdb, perf or py-spy --native.
"""
import os
import platform

from setuptools import Extension, setup

MODULES = ["_element_c", "_tokenizer_c", "_serializer_c", "_stanza_c", "_presence_c", "_muc_c"]

DEBUG_BUILD = bool(os.environ.get("FASTXMPP_DEBUG_BUILD"))
NO_EXTENSIONS = bool(os.environ.get("FASTXMPP_NO_EXTENSIONS")) or (
    platform.python_implementation() != "CPython"
)


def extensions():
    if NO_EXTENSIONS:
        return []
    from Cython.Build import cythonize

    compile_args, link_args = [], []
    if os.name != "nt":
        # later flags win over Python's own CFLAGS (which carry -g)
        compile_args = ["-O2", "-g"] if DEBUG_BUILD else ["-O2", "-g0"]
        if not DEBUG_BUILD and platform.system() == "Linux":
            link_args = ["-s"]
    exts = [
        Extension(f"fastxmpp.{name}", [f"fastxmpp/{name}.pyx"], extra_compile_args=compile_args,
                  extra_link_args=link_args)
        for name in MODULES
    ]
    return cythonize(
        exts,
        compiler_directives={
            "language_level": "3",
            "embedsignature": True,
            "freethreading_compatible": True,
        },
    )


setup(ext_modules=extensions())
