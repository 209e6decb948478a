"""The stream tokenizer: picks the compiled twin, or the pure-Python one.

See :class:`fastxmpp._tokenizer_py.Tokenizer` for the contract; both twins
behave the same and raise the same exception classes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._accel import USE_EXTENSIONS
from .tokens import StreamEnd, StreamHeader

if TYPE_CHECKING or not USE_EXTENSIONS:
    from ._tokenizer_py import Tokenizer
else:
    from ._tokenizer_c import Tokenizer

__all__ = ["Tokenizer", "StreamHeader", "StreamEnd"]
