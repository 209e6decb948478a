"""The element type shared by the tokenizer and the builder.

Selects the compiled twin (:mod:`fastxmpp._element_c`) when the extensions are
in use, else the pure-Python twin (:mod:`fastxmpp._element_py`); both behave
the same.  Type checkers always see the Python twin.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._accel import USE_EXTENSIONS

if TYPE_CHECKING or not USE_EXTENSIONS:
    from ._element_py import Element
else:
    from ._element_c import Element

__all__ = ["Element"]
