"""The login options every example takes: from the command line, else the environment.

    --jid       XMPP_JID        the account, bare or with a resource (required)
    --password  XMPP_PASSWORD   its password (prefer the variable: argv is visible to ps)
    --host      XMPP_HOST       where to connect (default: DNS SRV of the JID's domain)
    --port      XMPP_PORT       the port (default 5222, or SRV)
    --ca-file   XMPP_CA_FILE    a CA bundle to verify a private server's certificate
"""
from __future__ import annotations

import argparse
import os
from typing import Any, Dict

_OPTIONS = (("--jid", "XMPP_JID", "the account, e.g. bot@example.com/echo"),
            ("--password", "XMPP_PASSWORD", "its password"),
            ("--host", "XMPP_HOST", "server host (default: DNS SRV of the domain)"),
            ("--port", "XMPP_PORT", "server port"),
            ("--ca-file", "XMPP_CA_FILE", "CA file to verify the server's certificate"))


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the login options (each defaults to its variable)."""
    p = argparse.ArgumentParser(description=description)
    for flag, var, text in _OPTIONS:
        p.add_argument(flag, default=os.environ.get(var), help=f"{text} [${var}]",
                       type=int if flag == "--port" else str)
    return p


def client_options(args: argparse.Namespace) -> Dict[str, Any]:
    """The keywords for ``Client(...)``; exits with a usage message when one is missing."""
    for flag, var, _ in _OPTIONS[:2]:
        if not getattr(args, flag[2:].replace("-", "_")):
            raise SystemExit(f"{flag} or ${var} is required")
    return {"jid": args.jid, "password": args.password, "host": args.host,
            "port": args.port, "ca_file": args.ca_file}
