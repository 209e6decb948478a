"""The compiled twins are built without debug information (setup.py: -g0, stripped on Linux),
so that wheels stay small; FASTXMPP_DEBUG_BUILD=1 keeps it for local profiling."""
from __future__ import annotations

import os
import sys

import pytest

from fastxmpp import _accel


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF section names are checked on Linux")
@pytest.mark.skipif(not _accel.USE_EXTENSIONS, reason="the compiled twins are not in use")
@pytest.mark.skipif(bool(os.environ.get("FASTXMPP_DEBUG_BUILD")), reason="a debug build was asked for")
def test_compiled_twins_carry_no_debug_sections():
    from fastxmpp import _element_c, _muc_c, _presence_c, _serializer_c, _stanza_c, _tokenizer_c

    for module in (_element_c, _muc_c, _presence_c, _serializer_c, _stanza_c, _tokenizer_c):
        with open(module.__file__, "rb") as f:
            data = f.read()
        assert data[:4] == b"\x7fELF"
        assert b".debug_info" not in data, f"{module.__file__} has debug information"
