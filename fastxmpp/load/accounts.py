"""Accounts of a load run read from a CSV file (``--accounts FILE.csv``).

One account a line, ``jid,password`` (the JID bare: ``user@domain``); a first line
``jid,password`` is a header and skipped; blank lines are skipped.  The run's user number
``n`` (0-based over the whole run, over every ``--workers`` process and, with Locust,
every worker) logs in as the file's account ``n``, so no two users share an account.

A bad file raises :class:`AccountsFileError` (a :class:`ValueError`) naming the file and
the line: missing or unreadable, a line that is not two fields, a JID that is not a valid
bare JID, an empty password, the same JID twice, or fewer accounts than ``--users``.
"""
from __future__ import annotations

import csv
from typing import List, NamedTuple, Optional

from ..jid import JID, InvalidJID

__all__ = ["Account", "AccountsFileError", "check_enough", "read_accounts"]


class AccountsFileError(ValueError):
    """A bad ``--accounts`` file: ``path`` and, when one line is at fault, its ``line``
    (1-based)."""

    def __init__(self, message: str, path: str, line: Optional[int] = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"--accounts {where}: {message}")
        self.path = path
        self.line = line


class Account(NamedTuple):
    """One account: its ``localpart`` and ``domain``, and its ``password``; :attr:`jid` is
    derived from the first two."""

    localpart: str
    domain: str
    password: str

    @property
    def jid(self) -> str:
        """The bare JID, ``localpart@domain`` (the ``localpart`` alone at no ``domain``)."""
        return f"{self.localpart}@{self.domain}" if self.domain else self.localpart


def check_enough(accounts: List[Account], path: str, needed: int) -> None:
    """Raise :class:`AccountsFileError` when the file ``path`` gave fewer than ``needed``
    ``accounts``."""
    if len(accounts) < needed:
        raise AccountsFileError(f"{len(accounts)} accounts for --users {needed}", path)


def read_accounts(path: str, needed: int = 0) -> List[Account]:
    """The accounts of the CSV file ``path``, in file order; raises
    :class:`AccountsFileError` for a bad file or fewer than ``needed`` accounts."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise AccountsFileError("no such file", path) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AccountsFileError(f"cannot read it: {exc}", path) from None
    accounts: List[Account] = []
    seen = set()
    for number, row in enumerate(rows, 1):
        fields = [field.strip() for field in row]
        if not fields or fields == [""]:
            continue
        if number == 1 and [f.lower() for f in fields] == ["jid", "password"]:
            continue
        if len(fields) != 2:
            raise AccountsFileError(f"expected 'jid,password', got {len(fields)} fields", path, number)
        text, password = fields
        try:
            jid = JID(text)
        except InvalidJID as exc:
            raise AccountsFileError(f"bad JID {text!r}: {exc}", path, number) from None
        if not jid.localpart or jid.resource:
            raise AccountsFileError(f"bad JID {text!r}: an account is user@domain", path, number)
        if not password:
            raise AccountsFileError(f"empty password for {text}", path, number)
        bare = str(jid)
        if bare in seen:
            raise AccountsFileError(f"{bare} is listed twice", path, number)
        seen.add(bare)
        accounts.append(Account(jid.localpart, jid.domain, password))
    check_enough(accounts, path, needed)
    return accounts
