"""``python -m fastxmpp COMMAND``: command-line tools.

Commands: ``load`` (load-test a server; ``python -m fastxmpp load --help``).
"""
from __future__ import annotations

import sys
from typing import List, Optional

USAGE = """usage: python -m fastxmpp COMMAND [options]

commands:
  load    load-test an XMPP server (starts a private Prosody unless --server is given)

run 'python -m fastxmpp COMMAND --help' for the options of a command.
"""


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
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
