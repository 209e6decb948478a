"""``python -m fastxmpp COMMAND``: command-line tools.

Commands: ``load`` (load-test a server; ``python -m fastxmpp load --help``);
``--version`` prints the version, which twins are in use, Python's and expat's versions.
"""
from __future__ import annotations

import sys
from typing import List, Optional

USAGE = """usage: python -m fastxmpp COMMAND [options]
       python -m fastxmpp --version

commands:
  load    load-test an XMPP server (starts a private Prosody unless --server is given)

run 'python -m fastxmpp COMMAND --help' for the options of a command.
"""


def version_text() -> str:
    """``fastxmpp 0.1.0 (compiled twins; CPython 3.11.7, expat 2.5.0)``: what a bug report needs."""
    import platform
    import pyexpat

    from . import __version__
    from ._accel import USE_EXTENSIONS

    twins = "compiled twins" if USE_EXTENSIONS else "pure-Python twins"
    expat = ".".join(map(str, pyexpat.version_info))
    return (f"fastxmpp {__version__} ({twins}; {platform.python_implementation()} "
            f"{platform.python_version()}, expat {expat})")


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("--version", "-V"):
        print(version_text())
        return 0
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "load":
        from .load.cli import main as load_main

        return load_main(rest)
    sys.stderr.write(f"unknown command {command!r}\n\n{USAGE}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
