"""The compiled twins load when expected, and the sans-IO core stays free of I/O modules."""
from __future__ import annotations

import os
import platform
import subprocess
import sys

import fastxmpp
from fastxmpp import _accel


def test_compiled_twins_loaded_when_expected():
    expected = not os.environ.get("FASTXMPP_NO_EXTENSIONS") and platform.python_implementation() == "CPython"
    assert _accel.USE_EXTENSIONS is expected
    from fastxmpp import element, serializer, tokenizer

    family = "_c" if expected else "_py"
    assert tokenizer.Tokenizer.__module__.endswith("_tokenizer" + family)
    assert element.Element.__module__.endswith("_element" + family)
    assert serializer.serialize.__module__.endswith("_serializer" + family)


def test_core_imports_no_io():
    code = (
        "import sys, fastxmpp, fastxmpp.stream, fastxmpp.tokenizer, fastxmpp.serializer, "
        "fastxmpp.sasl, fastxmpp.jid, fastxmpp.sm, fastxmpp.connect, fastxmpp.backoff, "
        "fastxmpp.im, fastxmpp.im.session\n"
        "bad = sorted({'asyncio', 'socket', 'ssl'} & set(sys.modules))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(fastxmpp.__file__)))
    assert out.stdout.strip() == ""
