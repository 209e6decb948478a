"""Build script: lists the Cython extensions; metadata lives in pyproject.toml.

Set FASTXMPP_NO_EXTENSIONS=1 (or build on an interpreter other than CPython)
to install the pure-Python twins only.
"""
import os
import platform

from setuptools import Extension, setup

MODULES = ["_element_c", "_tokenizer_c", "_serializer_c", "_stanza_c"]

NO_EXTENSIONS = bool(os.environ.get("FASTXMPP_NO_EXTENSIONS")) or (
    platform.python_implementation() != "CPython"
)


def extensions():
    if NO_EXTENSIONS:
        return []
    from Cython.Build import cythonize

    exts = [
        Extension(f"fastxmpp.{name}", [f"fastxmpp/{name}.pyx"], extra_compile_args=["-O2"] if os.name != "nt" else [])
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
