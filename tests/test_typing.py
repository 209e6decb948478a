"""The typed API (``py.typed``, ``.pyi`` stubs for the compiled twins) checks out.

``mypy --strict`` finds no error in the package, and ``mypy.stubtest`` finds each compiled
module's run-time names and signatures as its stub declares them, so a change
to a ``.pyx`` that leaves its ``.pyi`` behind fails here.  A user's program sees each
client's features with that client's classes (``aio.Client().muc`` is a
``fastxmpp.aio.muc.MUC``), and ``Element.get()`` as ``Optional[str]``.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import load

pytest.importorskip("mypy", reason="mypy is in the test extras (pip install -e '.[test]')")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPILED = ["fastxmpp._tokenizer_c", "fastxmpp._element_c", "fastxmpp._serializer_c",
            "fastxmpp._stanza_c", "fastxmpp._presence_c", "fastxmpp._muc_c"]


def run(args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_mypy_finds_no_error_in_the_package(tmp_path):
    done = run(["mypy", "--strict", "--cache-dir", str(tmp_path), "-p", "fastxmpp"])
    assert done.returncode == 0, done.stdout + done.stderr
    # -p found every module and stub (a sub-package without its __init__.py would be left out)
    files = [path for pattern in ("*.py", "*.pyi") for path in Path(ROOT, "fastxmpp").rglob(pattern)
             if "__pycache__" not in path.parts]
    assert f"in {len(files)} source files" in done.stdout, done.stdout


def test_mypy_finds_no_error_in_the_examples(tmp_path):
    # the examples are literal-included in the docs and copied by users: what they show
    # type-checks under --strict (pyproject.toml lets mypy go without locust's types, for the
    # locustfile, when locust is not installed)
    examples = sorted(str(path) for path in Path(ROOT, "examples").glob("*.py"))
    assert len(examples) >= 6, examples
    done = run(["mypy", "--strict", "--cache-dir", str(tmp_path), *examples])
    assert done.returncode == 0, done.stdout + done.stderr


def features():
    """(attribute, module, class) of every feature the clients share."""
    from fastxmpp._client_base import ClientBase, Feature
    return [(name, f.module, f.cls) for name, f in vars(ClientBase).items() if isinstance(f, Feature)]


def test_every_feature_is_typed_for_each_client():
    import fastxmpp.aio
    import fastxmpp.sync
    from fastxmpp._client_base import ClientBase
    found = features()
    assert {"roster", "presence", "subscriptions", "messages", "disco", "pinger", "software_version",
            "caps", "receipts", "chat_states", "carbons", "blocking", "registration", "muc",
            "mam"} <= {name for name, _, _ in found}
    for client in (fastxmpp.aio.Client, fastxmpp.sync.Client):
        package = client.__module__.rsplit(".", 1)[0]
        for name, module, cls in found:
            # its own declaration, whose type the API reference shows
            assert name in vars(client), (client, name)
            assert vars(client)[name].fget.__annotations__["return"] == f"{package}.{module}.{cls}"
            assert vars(client)[name].__doc__ == vars(ClientBase)[name].__doc__
    for name, _, _ in found:
        # napoleon reads a first line "a: b" as the property's type "a"
        assert ":" not in vars(ClientBase)[name].__doc__.strip().splitlines()[0], name


def test_a_users_program_sees_each_clients_feature_classes(tmp_path):
    found = features()
    lines = ["from __future__ import annotations", "import fastxmpp.aio", "import fastxmpp.sync",
             "from fastxmpp import Element", "",
             "async def aio_features(client: fastxmpp.aio.Client) -> None:"]
    lines += [f"    reveal_type(client.{name})" for name, _, _ in found]
    lines += ["", "def sync_features(client: fastxmpp.sync.Client) -> None:"]
    lines += [f"    reveal_type(client.{name})" for name, _, _ in found]
    lines += [textwrap.dedent("""
        async def aio_use(client: fastxmpp.aio.Client) -> None:
            room = await client.muc.join("room@conference.example.org", "nick")
            reveal_type(room)
            seconds: float = await client.pinger.send("example.org")
            await client.muc.join(1, "nick")  # error: not a room
            client.muc = None  # error: read-only

        def sync_use(client: fastxmpp.sync.Client, stanza: Element) -> None:
            reveal_type(client.muc.join("room@conference.example.org", "nick"))
            reveal_type(stanza.get("from"))
            reveal_type(stanza.get("type", "normal"))
            reveal_type(stanza.get("id", 0))
            sender: str = stanza.get("from")  # error: may be None
        """)]
    program = tmp_path / "users_program.py"
    lines = "\n".join(lines).splitlines()
    program.write_text("\n".join(lines), encoding="utf-8")
    done = run(["mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary",
                "--hide-error-context", "--no-color-output", str(program)])
    revealed, errors = [], []
    for line in done.stdout.splitlines():
        match = re.match(r'.*users_program\.py:(\d+): (?:note: Revealed type is "(.*)"|error: )', line)
        assert match, done.stdout + done.stderr
        if match.group(2) is not None:
            revealed.append(plain(match.group(2)))
        elif lines[int(match.group(1)) - 1] not in errors:
            errors.append(lines[int(match.group(1)) - 1])
    expected = [f"fastxmpp.{driver}.{module}.{cls}" for driver in ("aio", "sync") for _, module, cls in found]
    expected += ["fastxmpp.aio.muc.Room", "fastxmpp.sync.muc.Room", "str | None", "str", "str | int"]
    assert revealed == expected, done.stdout
    assert [line.split("#")[-1].strip() for line in errors] == [
        "error: not a room", "error: read-only", "error: may be None"], done.stdout


def plain(revealed):
    """A revealed type as recent mypy versions write it (``str | None``, not
    ``Union[builtins.str, None]``)."""
    revealed = revealed.replace("builtins.", "")
    union = re.fullmatch(r"Union\[(.*)\]", revealed)
    return " | ".join(union.group(1).split(", ")) if union else revealed


def check_program(tmp_path, name, text):
    """Run ``mypy --strict`` on a user's program: (mypy's run, the types it revealed in
    order, the program's lines it found errors on, each once)."""
    program = tmp_path / name
    program.write_text(text, encoding="utf-8")
    done = run(["mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary",
                "--hide-error-context", "--no-color-output", str(program)])
    lines = text.splitlines()
    revealed, errors = [], []
    for line in done.stdout.splitlines():
        match = re.match(r'.*%s:(\d+): (?:note: Revealed type is "(.*)"|error: )' % re.escape(name), line)
        assert match, done.stdout + done.stderr
        if match.group(2) is not None:
            revealed.append(plain(match.group(2)))
        elif lines[int(match.group(1)) - 1] not in errors:
            errors.append(lines[int(match.group(1)) - 1])
    return done, revealed, errors


def test_the_feature_declarations_import_no_feature_module():
    # a feature's module is imported on first access, not by the client's typed declarations
    code = textwrap.dedent("""
        import sys
        import fastxmpp.aio, fastxmpp.sync
        lazy = {"caps", "receipts", "chatstates", "carbons", "blocking", "register", "muc", "mam", "xep"}
        def loaded():
            return {m.rsplit(".", 1)[1] for m in sys.modules if m.startswith(("fastxmpp.aio.", "fastxmpp.sync."))} & lazy
        assert not loaded(), loaded()
        for client in (fastxmpp.aio.Client("a@example.org", "x"), fastxmpp.sync.Client("a@example.org", "x")):
            assert client.muc is client.muc
        assert "muc" in loaded() and not loaded() & {"mam", "caps", "carbons", "blocking"}, loaded()
        assert "fastxmpp.xep.mam" not in sys.modules
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_compiled_modules_match_their_stubs():
    load("c", "tokenizer")   # skips when the compiled twins are not in use
    allowlist = os.path.join(ROOT, "tests", "stubtest_allowlist.txt")
    # PEP 800's @disjoint_base is left out of the stubs: type checkers older than it
    # would not find it in typing_extensions
    done = run(["mypy.stubtest", "--ignore-disjoint-bases", "--allowlist", allowlist, *COMPILED])
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_users_program_sees_typed_feature_methods(tmp_path):
    # JIDs are JIDLike (str or JID; anything else is an error), decorators give the handler
    # back with its own type, and the features' queries return their real types
    done, revealed, errors = check_program(tmp_path, "features_program.py", textwrap.dedent("""
        from __future__ import annotations
        import fastxmpp.aio
        import fastxmpp.sync
        from fastxmpp.im import Message
        from fastxmpp.jid import JID, JIDLike
        from fastxmpp.xep.muc import RoomEvent

        async def aio_use(client: fastxmpp.aio.Client, who: JIDLike) -> None:
            async def on_message(msg: Message) -> None: ...
            async def on_room(event: RoomEvent) -> None: ...
            reveal_type(client.messages.on_message(on_message))
            reveal_type(client.messages.on_message(types=("chat",))(on_message))
            reveal_type(client.muc.on_event(on_room))
            reveal_type(client.muc.room("room@conference.example.org"))
            reveal_type(client.presence.error(who))
            await client.roster.add(JID("romeo@example.net"), groups=["friends"])
            await client.roster.add(1)  # error: not a JID
            await client.disco.info(b"example.org")  # error: not a JID

        def sync_use(client: fastxmpp.sync.Client) -> None:
            def on_event(event: object) -> int:
                return 0
            reveal_type(client.roster.on_event(on_event))
            reveal_type(client.muc.rooms)
            reveal_type(client.roster.groups())
            client.subscriptions.approve("juliet@example.com")
        """))
    errors = [line.split("#")[-1].strip() for line in errors]
    # (fragments: mypy versions write unions and coroutines differently)
    expected = [
        "def (msg: fastxmpp.im.messages.Message) -> ",
        "def (msg: fastxmpp.im.messages.Message) -> ",
        "def (event: ",  # ... the RoomEvent union, below
        "fastxmpp.aio.muc.Room | None",
        "fastxmpp.stanza_errors.StanzaError | None",
        "def (event: object) -> int",
        "dict[fastxmpp.jid.JID, fastxmpp.sync.muc.Room]",
        "dict[str, list[fastxmpp.im.roster.RosterItem]]",
    ]
    assert len(revealed) == len(expected), done.stdout
    for seen, fragment in zip(revealed, expected):
        assert seen.replace("Dict[", "dict[").replace("List[", "list[").startswith(fragment), (seen, fragment)
    assert "fastxmpp.xep.muc.RoomJoined" in revealed[2] and "fastxmpp.xep.muc.RoomLeft" in revealed[2]
    assert errors == ["error: not a JID", "error: not a JID"], done.stdout


def test_a_users_program_sees_the_room_and_the_answer_types(tmp_path):
    # a room event's room is the client's room class (RoomEvent[Room], RoomMessage[Room]...;
    # MUCCore's own events carry its RoomState), and a subscription request's approve()/deny()
    # return what the client's do: an awaitable with asyncio, None with the blocking client
    done, revealed, errors = check_program(tmp_path, "answers_program.py", textwrap.dedent("""
        from __future__ import annotations
        from typing import Awaitable
        import fastxmpp.aio
        import fastxmpp.aio.muc
        import fastxmpp.sync
        import fastxmpp.sync.muc
        from fastxmpp.im.session import SubscriptionRequest
        from fastxmpp.jid import JID
        from fastxmpp.xep.muc import Occupant, RoomEvent, RoomJoined, RoomMessage, RoomState

        async def aio_use(client: fastxmpp.aio.Client, event: RoomEvent[fastxmpp.aio.muc.Room],
                          message: RoomMessage[fastxmpp.aio.muc.Room]) -> None:
            reveal_type(event.room)
            reveal_type(message.room)
            await event.room.send("hello")
            async def on_request(request: SubscriptionRequest[Awaitable[None]]) -> None:
                reveal_type(request.approve())
                await request.deny()
            client.subscriptions.on_request(on_request)

        def sync_use(client: fastxmpp.sync.Client, event: RoomJoined[fastxmpp.sync.muc.Room]) -> None:
            reveal_type(event.room)
            event.room.send_later("hello")  # error: no such method
            def on_request(request: SubscriptionRequest[None]) -> None:
                reveal_type(request.deny())
            client.subscriptions.on_request(on_request)

        def core_use(jid: JID) -> None:
            reveal_type(RoomJoined(room=RoomState(jid, "nick"), occupant=Occupant(jid, "nick", "none", "none")).room)
            joined: RoomJoined[int]  # error: not a room
        """))
    assert revealed == ["fastxmpp.aio.muc.Room", "fastxmpp.aio.muc.Room", "typing.Awaitable[None]",
                        "fastxmpp.sync.muc.Room", "None", "fastxmpp.xep.muc.RoomState"], done.stdout
    assert [line.split("#")[-1].strip() for line in errors] == [
        "error: no such method", "error: not a room"], done.stdout
