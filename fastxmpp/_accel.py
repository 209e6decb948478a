"""The one place that decides whether the compiled twins are used.

``FASTXMPP_NO_EXTENSIONS`` set to a non-empty value, or an interpreter other
than CPython, selects the pure-Python twins.  The compiled twins are used only
when all of them import, so that elements, tokenizer and serializer always
come from the same family.
"""
import os
import platform

NO_EXTENSIONS: bool = bool(os.environ.get("FASTXMPP_NO_EXTENSIONS")) or (
    platform.python_implementation() != "CPython"
)


def _extensions_loaded() -> bool:
    if NO_EXTENSIONS:
        return False
    try:
        from . import _element_c, _muc_c, _presence_c, _serializer_c, _stanza_c, _tokenizer_c  # noqa: F401
    except ImportError:
        return False
    return True


USE_EXTENSIONS: bool = _extensions_loaded()
