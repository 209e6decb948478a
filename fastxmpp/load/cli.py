"""``python -m fastxmpp load``: the load-test command line.

Without ``--server`` a private Prosody is started in a temporary directory
(:mod:`fastxmpp.testing.prosody`), the accounts are written straight into its
storage, and the server is stopped at the end.  With ``--server HOST:PORT`` the
accounts must exist already, or ``--register`` creates them by in-band
registration (XEP-0077).

Exit status: 0 when every user logged in and no stanza was lost or duplicated,
1 otherwise, 2 for bad options, 3 when the run could not be set up (server or
registration failure).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import ipaddress
import logging
import os
import sys
import tempfile
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .runner import LoadConfig, LoadRunner, Target
from .report import exit_code, format_report, write_json
from .workers import run_workers, split_users, worker_count

__all__ = ["main", "build_parser", "parse_args", "config_from_args", "parse_hostport"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SETUP = 0, 1, 2, 3


def parse_hostport(text: str, default_port: int = 5222) -> Tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address -> (host, port)."""
    text = text.strip()
    if not text:
        raise ValueError("empty server address")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise ValueError(f"unclosed '[' in {text!r}")
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad server address {text!r}")
        port_text = rest[1:]
    elif text.count(":") > 1:  # a bare IPv6 address
        host, port_text = text, ""
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise ValueError(f"no host in {text!r}")
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"bad port {port_text!r}")
        port = int(port_text)
    return host, port


def _hostport(text: str) -> Tuple[str, int]:
    try:
        return parse_hostport(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _phase(text: str) -> Tuple[float, float]:
    rate, sep, seconds = text.partition(":")
    try:
        value = (float(rate), float(seconds))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a phase is RATE:SECONDS, not {text!r}") from None
    if not sep or not all(0 < v < float("inf") for v in value):
        raise argparse.ArgumentTypeError(f"a phase is RATE:SECONDS, both > 0, not {text!r}")
    return value


def _nonneg_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a finite number >= 0")
    return value


def _positive_float(text: str) -> float:
    value = _nonneg_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


class _DefaultsFormatter(argparse.HelpFormatter):
    """Adds "(default: X)" where it tells something: not when the help already says its
    default, not for flags (their default is "off"), and not for options without one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default is None or isinstance(default, bool)
                or default == argparse.SUPPRESS or action.nargs == 0 or not action.option_strings):
            return text
        return text + " (default: %(default)s)"


def build_parser(prog: str = "python -m fastxmpp load") -> argparse.ArgumentParser:
    """The argument parser of ``python -m fastxmpp load`` (each option with its default)."""
    d = LoadConfig()
    p = argparse.ArgumentParser(
        prog=prog,
        description="Load-test an XMPP server with many fastxmpp clients, one process per core. "
                    "Without --server a private Prosody is started on 127.0.0.1 for the run.",
        formatter_class=_DefaultsFormatter,
    )
    g = p.add_argument_group("server")
    g.add_argument("--server", type=_hostport, metavar="HOST:PORT",
                   help="server to test (default: start a private Prosody)")
    g.add_argument("--domain", metavar="D",
                   help="XMPP domain of the accounts (default: the --server host, or 'localhost')")
    g.add_argument("--ca-file", metavar="PEM", help="extra CA certificates to trust")
    g.add_argument("--insecure", action="store_true", help="do not verify the server certificate")
    g = p.add_argument_group("accounts")
    g.add_argument("--users", type=_positive_int, default=d.users, metavar="N", help="number of users")
    g.add_argument("--password", default=d.password, help="password of every account")
    g.add_argument("--user-prefix", default=d.user_prefix, metavar="P",
                   help="accounts are P1..PN")
    g.add_argument("--resource", default=d.resource, help="resource each user asks for")
    g.add_argument("--register", action="store_true",
                   help="create the accounts by in-band registration (XEP-0077) first")
    g.add_argument("--accounts", metavar="FILE.csv",
                   help="log in as the accounts of this CSV file, one 'jid,password' a line (a "
                        "header line optional); user n takes line n, also over --workers")
    g.add_argument("--register-rate", type=_nonneg_float, default=d.register_rate, metavar="R",
                   help="register the accounts in-band (XEP-0077) before the run, at most R a second")
    g.add_argument("--concurrency", type=_positive_int, default=d.concurrency, metavar="C",
                   help="logins (and registrations) in flight")
    g.add_argument("--phase", dest="phases", action="append", type=_phase, metavar="RATE:SECONDS",
                   help="open-model arrival: RATE new sessions per second for SECONDS; repeat for "
                        "more phases, one after another (default: every user at once, --concurrency "
                        "logins in flight)")
    g.add_argument("--arrival", choices=("poisson", "constant"), default=d.arrival,
                   help="with --phase: gaps between arrivals")
    g = p.add_argument_group("traffic")
    g.add_argument("--scenario", default=d.scenario, metavar="NAME",
                   help="login: log in and out; chat: paired users exchange messages; "
                        "presence: directed presence between pairs; iq: XEP-0199 pings; "
                        "idle: hold the sessions open (--hold) with presence and keepalives; "
                        "muc: rooms of --room-size occupants, messages fanned out; "
                        "roster: rosters of --contacts contacts, presence broadcasts; "
                        "or module:Class, a fastxmpp.load.scenarios.Scenario of your own "
                        f"(default: {d.scenario})")
    g.add_argument("--messages", type=_nonneg_int, default=d.messages, metavar="M",
                   help="stanzas each user sends")
    g.add_argument("--rate", type=_nonneg_float, default=d.rate, metavar="R",
                   help="stanzas per second per user (0: as fast as flow control allows)")
    g.add_argument("--total-rate", type=_nonneg_float, default=d.total_rate, metavar="R",
                   help="at most R stanzas per second from all the users together, evenly spaced "
                        "(no bursts; each worker takes its users' share; default: 0, no global limit)")
    g.add_argument("--loop", action="store_true",
                   help="closed model held for --duration: every user keeps sending (--messages is "
                        "no limit) and the sessions stay open until --duration ends")
    g.add_argument("--hold", type=_nonneg_float, default=d.hold, metavar="S",
                   help="idle scenario: seconds to hold the sessions open")
    g.add_argument("--room-size", type=_positive_int, default=d.room_size, metavar="K",
                   help="muc scenario: occupants per room")
    g.add_argument("--muc-domain", metavar="D",
                   help="muc scenario: the multi-user chat service (default: conference.DOMAIN)")
    g.add_argument("--contacts", type=_positive_int, default=d.contacts, metavar="C",
                   help="roster scenario: contacts in each user's roster")
    g.add_argument("--body-size", type=_nonneg_int, default=d.body_size, metavar="BYTES",
                   help="pad chat bodies to this many characters")
    g.add_argument("--iq-target", choices=("server", "peer"), default=d.iq_target,
                   help="iq scenario: ping the server or the paired user")
    g.add_argument("--no-stream-management", dest="stream_management", action="store_false",
                   help="do not enable XEP-0198 stream management")
    g.add_argument("--tls-resume", action="store_true",
                   help="share TLS 1.3 sessions between the users' connections so logins resume "
                        "them (the private Prosody is then configured to allow it)")
    g = p.add_argument_group("limits and output")
    g.add_argument("--duration", type=_positive_float, default=d.duration, metavar="S",
                   help="hard cap on registration + logins + traffic, in seconds; with --loop, "
                        "how long the sessions are held and the users send")
    g.add_argument("--drain", type=_nonneg_float, default=d.drain, metavar="S",
                   help="after sending, wait at most this long for stanzas in flight")
    g.add_argument("--login-timeout", type=_positive_float, default=d.login_timeout, metavar="S",
                   help="timeout of one login")
    g.add_argument("--iq-timeout", type=_positive_float, default=d.iq_timeout, metavar="S",
                   help="timeout of one iq round trip")
    g.add_argument("--report", metavar="FILE.json", help="also write the report as JSON")
    g.add_argument("--html", metavar="FILE.html",
                   help="also write a self-contained HTML report with plots (needs matplotlib: "
                        "pip install 'fastxmpp[load]')")
    g.add_argument("--hdr-log", metavar="FILE.hlog",
                   help="also write the latency histograms per second in HdrHistogram's interval "
                        "log format (microseconds)")
    g.add_argument("--quiet", "-q", action="store_true", help="no live progress on stderr")
    g.add_argument("--verbose", "-v", action="count", default=0,
                   help="log to stderr (-v: info, -vv: debug)")
    g = p.add_argument_group("processes")
    g.add_argument("--workers", type=_nonneg_int, default=0, metavar="N",
                   help="spread the users over N processes, their results merged exactly "
                        "(default: 0, one per core; 1: all in this process)")
    g.add_argument("--no-uvloop", dest="uvloop", action="store_false",
                   help="run the asyncio loops on the default event loop, not on uvloop "
                        "(used when it is installed)")
    return p


class _ParsedArgs(argparse.Namespace):
    """What :func:`parse_args` returns: the options, and the :class:`LoadConfig` it built from
    them and validated (with ``--accounts``, holding the file's accounts: the one read of the
    run), which :func:`config_from_args` hands on."""

    config: Optional[LoadConfig] = None


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse and check the load command's arguments (``sys.argv[1:]`` when ``argv`` is None)."""
    parser = build_parser()
    args = parser.parse_args(argv, namespace=_ParsedArgs())
    config = _new_config(args)  # the run's: it reads the --accounts file once, below
    if args.domain is None and args.accounts:  # the accounts' domain
        try:
            accounts = config.file_accounts()
        except ValueError as exc:
            parser.error(str(exc))
        if accounts:
            args.domain = accounts[0].domain
    if args.server is not None and args.domain is None:
        host = args.server[0]
        try:
            ipaddress.ip_address(host)
        except ValueError:
            args.domain = host.rstrip(".").lower()
        else:
            parser.error("--domain is required when --server is an IP address")
    if args.domain is None:
        args.domain = "localhost"
    try:
        config.validate()
    except ValueError as exc:
        parser.error(str(exc))
    args.config = config  # run() takes it (and the accounts it read) from here
    if args.ca_file is not None and not os.path.exists(args.ca_file):
        parser.error(f"--ca-file {args.ca_file!r} does not exist")
    if getattr(args, "html", None) and importlib.util.find_spec("matplotlib") is None:
        parser.error("--html needs matplotlib: pip install 'fastxmpp[load]'")
    return args


def config_from_args(args: argparse.Namespace) -> LoadConfig:
    """The :class:`~fastxmpp.load.runner.LoadConfig` that parsed arguments describe: the one
    :func:`parse_args` built, validated and read ``--accounts`` for, while ``args`` still
    describe it; else a new one (which takes the accounts already read, for the same file)."""
    config = _new_config(args)
    built = args.config if isinstance(args, _ParsedArgs) else None
    if built is None:
        return config
    if built == config:  # the fields, not the accounts read
        return built
    if config.accounts_file is not None and built.accounts_file == config.accounts_file:
        config.use_accounts(built.file_accounts(), whole=True)
    return config


def _new_config(args: argparse.Namespace) -> LoadConfig:
    return LoadConfig(
        users=args.users, password=args.password, user_prefix=args.user_prefix, resource=args.resource,
        register=args.register, concurrency=args.concurrency, scenario=args.scenario,
        messages=args.messages, rate=args.rate, body_size=args.body_size, iq_target=args.iq_target,
        duration=args.duration, drain=args.drain, iq_timeout=args.iq_timeout,
        login_timeout=args.login_timeout, stream_management=args.stream_management,
        tls_resume=args.tls_resume, quiet=args.quiet, phases=list(args.phases or []),
        arrival=args.arrival, hold=args.hold, room_size=args.room_size, muc_domain=args.muc_domain,
        contacts=args.contacts, total_rate=args.total_rate, loop=args.loop,
        accounts_file=args.accounts, register_rate=args.register_rate,
    )


def _raise_fd_limit(needed: int) -> None:
    """Each user holds a socket: lift the soft open-files limit towards the hard one."""
    try:
        import resource
    except ImportError:  # not on Windows
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = needed + 256
        if soft != resource.RLIM_INFINITY and soft < want:
            new = want if hard == resource.RLIM_INFINITY else min(max(want, soft), hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            if hard != resource.RLIM_INFINITY and hard < want:
                print(f"warning: the open-files limit ({hard}) is below what {needed} users need",
                      file=sys.stderr)
    except (ValueError, OSError):
        pass


@contextlib.contextmanager
def _target(args: argparse.Namespace, config: LoadConfig, say: Any) -> Iterator[Target]:
    if args.server is not None:
        host, port = args.server
        yield Target(host=host, port=port, domain=args.domain, ca_file=args.ca_file, insecure=args.insecure)
        return
    from ..testing.prosody import ProsodyServer

    with tempfile.TemporaryDirectory(prefix="fastxmpp-load-") as workdir:
        server = ProsodyServer(workdir, domain=args.domain, log_level="warn", tls_tickets=config.tls_resume,
                               muc=config.scenario == "muc" and not config.muc_domain)
        t0 = time.monotonic()
        server.start()
        try:
            if not (config.register or config.register_rate):
                server.create_users([(a.localpart, a.password) for a in config.accounts()])
            say(f"private Prosody (pid {server.pid}) on {server.host}:{server.port} for {server.domain}, "
                f"started in {server.startup_seconds:.2f}s; {config.users} accounts ready after "
                f"{time.monotonic() - t0:.2f}s")
            yield Target(host=server.host, port=server.port, domain=server.domain,
                         ca_file=args.ca_file or str(server.ca_file), insecure=args.insecure,
                         local=True, server_pid=server.pid)
        finally:
            server.stop()


def run(args: argparse.Namespace) -> Tuple[int, Optional[Dict[str, Any]]]:
    """Run the load test described by parsed ``args``; returns (exit status, report)."""
    config = config_from_args(args)
    try:
        config.validate()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE, None
    quiet = args.quiet

    def say(text: str) -> None:
        if not quiet:
            print(text, file=sys.stderr, flush=True)

    _raise_fd_limit(config.users)
    try:
        with _target(args, config, say) as target:
            workers = len(split_users(config.users, worker_count(args.workers), config.scenario,
                                      unit=config.scenario_class().group_size(config)))
            progress = None if quiet else sys.stderr
            if workers > 1:
                say(f"{workers} worker processes")
                report = run_workers(config, target, workers, progress_stream=progress,
                                     use_uvloop=args.uvloop)
            else:
                runner = LoadRunner(config, target, progress_stream=progress)
                report = runner.run(use_uvloop=args.uvloop, handle_sigint=True)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130, None
    except Exception as exc:  # noqa: BLE001 - a setup failure ends the run with a message
        from ..testing.prosody import ProsodyError

        if isinstance(exc, (ProsodyError, OSError)):
            print(f"error: could not set up the run: {exc}", file=sys.stderr)
            return EXIT_SETUP, None
        raise
    sys.stdout.write(format_report(report))
    sys.stdout.flush()
    if args.report:
        write_json(report, args.report)
        say(f"JSON report written to {args.report}")
    for path, kind in ((getattr(args, "html", None), "html"), (getattr(args, "hdr_log", None), "hlog")):
        if path:  # imported only when asked for: a plain run never loads matplotlib
            from .report import write_extra

            write_extra(report, path, kind)
            say(f"{'HTML report' if kind == 'html' else 'HdrHistogram log'} written to {path}")
    if report.get("interrupted"):
        return 130, report
    return exit_code(report), report


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``python -m fastxmpp load`` (and a ``fastxmpp`` console script).

    Accepts the ``load`` subcommand name as first argument or not.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "load":
        argv = argv[1:]
    args = parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.verbose == 0:
        # the aio client warns about certificate checks being off once per context: say it once
        logging.getLogger("fastxmpp.tls").setLevel(logging.WARNING)
    code, _ = run(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
