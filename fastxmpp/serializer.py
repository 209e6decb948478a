"""Elements to UTF-8 bytes; the stream header and footer.

Selects the compiled twin (:mod:`fastxmpp._serializer_c`) when the extensions
are in use, else the pure-Python twin (:mod:`fastxmpp._serializer_py`); both
write the same bytes and raise the same errors.  The serializer of one family
only accepts elements of the same family: use :mod:`fastxmpp.element`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._accel import USE_EXTENSIONS

if TYPE_CHECKING or not USE_EXTENSIONS:
    from ._serializer_py import serialize, stream_footer, stream_header
else:
    from ._serializer_c import serialize, stream_footer, stream_header

__all__ = ["serialize", "stream_header", "stream_footer"]
