"""A private, throw-away Prosody server for integration and load tests.

Usage::

    with ProsodyServer(tmp_path) as server:
        server.create_user("alice", "secret")
        connect(server.host, server.port, domain=server.domain, cafile=server.ca_file)

Each instance writes everything it needs under ``workdir``: its own config
(``prosody.cfg.lua``), a CA certificate and a server certificate made with
``cryptography`` or else the ``openssl`` command (``ca_file`` is the one to
trust), its data directory, pidfile, log file (``log_path``) and two small
plugins: a test helper (``TEST_NS``) and, unless ``smacks_parser_fix=False``,
a fix for a Prosody 0.12 bug in stream resumption (:data:`SMACKS_PARSER_FIX`).
Prosody listens for c2s on
127.0.0.1 only, on a free port unless one is given; s2s and HTTP are off.

Accounts are written straight into Prosody's internal storage
(``<data>/<host>/accounts/<user>.dat``) with SCRAM-SHA-1 hashed credentials, so
creating hundreds of users takes milliseconds and works whether the server is
running or not (Prosody reads the file at each login).

Requires the ``prosody`` binary (``scripts/install-system-deps``) and the
``cryptography`` package (or, without it, the ``openssl`` command).

This module lives in the package so the load-test runner (``python -m fastxmpp
load`` without ``--server``) can start a local server.  The core never imports
it: only :mod:`fastxmpp.load`, the tests and the benchmarks do.
"""
from __future__ import annotations

import datetime
import hashlib
import hmac
import ipaddress
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, BinaryIO, Dict, Iterable, List, Optional, Sequence, Tuple, Union

__all__ = [
    "ProsodyServer",
    "ProsodyError",
    "prosody_binary",
    "find_free_port",
    "scram_sha1_credentials",
    "TEST_NS",
    "SMACKS_PARSER_FIX",
    "SMACKS_PARSER_FIX_MODULE",
    "DEFAULT_MODULES",
    "DISABLED_MODULES",
]

DEFAULT_MODULES: Tuple[str, ...] = (
    "roster",
    "saslauth",
    "tls",
    "disco",
    "ping",
    "register",
    "smacks",
    "carbons",
    "blocklist",
    "vcard4",
    "vcard_legacy",
    "private",
    "pep",
    "time",
    "version",
    "uptime",
    "csi_simple",
    "admin_shell",
    "admin_socket",
    "fastxmpp_test",
)

# Only the c2s listener: no s2s (module disabled, no ports), no HTTP (no module
# that would pull mod_http in, and no ports either).
DISABLED_MODULES: Tuple[str, ...] = ("s2s", "s2s_auth_certs", "dialback", "s2s_bidi")

TEST_NS = "urn:xmpp:fastxmpp:test:0"

# Loaded as mod_fastxmpp_test.  An authenticated client sends
#   <iq type='set' to='DOMAIN'><stream-error xmlns='urn:xmpp:fastxmpp:test:0'
#        condition='policy-violation' text='optional'/></iq>
# and the server closes that session with that stream error (no iq reply);
# with abrupt='true' it instead drops the TCP connection without a word.
_TEST_PLUGIN = r"""
local xmlns = "%(ns)s";
module:hook("iq-set/host/" .. xmlns .. ":stream-error", function (event)
	local origin, stanza = event.origin, event.stanza;
	local req = stanza.tags[1];
	if req.attr.abrupt == "true" then
		module:log("info", "Dropping the connection of %%s on request", origin.full_jid or "?");
		if origin.conn then origin.conn:close(); end
		return true;
	end
	local condition = req.attr.condition or "undefined-condition";
	local text = req.attr.text;
	module:log("info", "Sending stream error %%s to %%s on request", condition, origin.full_jid or "?");
	origin:close({ condition = condition, text = text });
	return true;
end);
module:hook("iq-set/host/" .. xmlns .. ":echo", function (event)
	-- Handy for tests: replies with the request, proving the stream is alive.
	local reply = require "util.stanza".reply(event.stanza);
	reply:add_child(event.stanza.tags[1]);
	event.origin.send(reply);
	return true;
end);
""" % {"ns": TEST_NS}

#: The name ``ProsodyServer`` loads :data:`SMACKS_PARSER_FIX` under (``mod_<name>.lua``).
SMACKS_PARSER_FIX_MODULE = "fastxmpp_smacks_parser_fix"

# Loaded as mod_fastxmpp_smacks_parser_fix unless smacks_parser_fix=False.
#
# Why: Prosody 0.12's mod_smacks (checked on 0.12.3, /usr/lib/prosody/modules/mod_smacks.lua,
# handle_resume) moves a resumed session onto the new connection -- its stream, filters,
# conn -- but leaves the session's ``data`` function in place: mod_c2s's closure over the XML
# parser (and input filter) of the connection the session *started* on.  So what a client sends
# after a resumption is fed to that old parser.  When a connection of the session died while the
# parser held part of a stanza (Prosody reads TLS plaintext 8 KiB at a time, so a busy server
# often stops mid-stanza), the resumed stream is glued onto the fragment: everything the client
# sends becomes children of a stanza that never ends (no answer, no ack), or the first closing
# tag is a not-well-formed stream error that ends the session (the next resumption then fails
# with item-not-found and the server's queue goes to offline storage).  A client can neither
# prevent nor repair that; under load any resumption test can meet it.
#
# How: mod_smacks fires "smacks-hibernation-end" (event.resumed = the resumed session) at the
# end of every successful resumption (0.12.3: mod_smacks.lua's handle_resume, after <resumed/>
# and the resent queue; the prosody-modules mod_smacks that preceded it fired it too).  The hook
# gives the session a ``data`` function like mod_c2s's own (same bytes/in filter, same error
# handling) that uses the session's *current* stream and filter.  Harmless elsewhere: without
# mod_smacks, or with one that never fires the event, the hook never runs (checked: the server
# starts and logs in with smacks disabled); where ``data`` already follows the connection, the
# replacement does the same as the stock function.
SMACKS_PARSER_FIX = r"""
local st = require "util.stanza";
module:hook("smacks-hibernation-end", function (event)
	local session = event.resumed;
	if not (session and session.stream and session.filter) then return; end
	function session.data(data)
		data = data and session.filter("bytes/in", data);
		if not data then return; end
		local ok, err = session.stream:feed(data);
		if ok then return; end
		session.log("debug", "Received invalid XML (%s) %d bytes: %q", err, #data, data:sub(1, 300));
		if err == "stanza-too-large" then
			session:close({ condition = "policy-violation", text = "XML stanza is too big",
				extra = st.stanza("stanza-too-big", { xmlns = "urn:xmpp:errors" }) });
		else
			session:close("not-well-formed");
		end
	end
end);
"""


class ProsodyError(RuntimeError):
    """The server could not be started, stopped or driven."""


class _PortTaken(Exception):
    pass


def prosody_binary() -> Optional[str]:
    """Path of the ``prosody`` executable, or None when it is not installed."""
    found = shutil.which("prosody")
    if found:
        return found
    for candidate in ("/usr/bin/prosody", "/usr/local/bin/prosody"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def find_free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _lua_string(value: str) -> str:
    """A Lua string literal for ``value`` (bytes are escaped as ``\\ddd``)."""
    out = ['"']
    for byte in value.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append("\\%03d" % byte)
    out.append('"')
    return "".join(out)


def _lua_value(value: object) -> str:
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        return _lua_string(str(value))
    if isinstance(value, dict):
        items = "".join(
            "[%s] = %s; " % (_lua_value(k), _lua_value(v)) for k, v in value.items()
        )
        return "{ %s}" % items
    if isinstance(value, (list, tuple, set, frozenset)):
        return "{ %s}" % "".join("%s; " % _lua_value(v) for v in value)
    raise TypeError("cannot write %r as Lua" % (value,))


def _store_encode(name: str) -> str:
    """Prosody's ``datamanager`` encoding of a host or user in a path."""
    return "".join(
        chr(b) if (chr(b).isascii() and chr(b).isalnum()) else "%%%02x" % b
        for b in name.encode("utf-8")
    )


def scram_sha1_credentials(
    password: str, iteration_count: int = 4096, salt: Optional[str] = None
) -> Dict[str, Any]:
    """The account record Prosody's ``internal_hashed`` keeps for a password."""
    salt = salt if salt is not None else str(uuid.uuid4())
    salted = hashlib.pbkdf2_hmac(
        "sha1", password.encode("utf-8"), salt.encode("utf-8"), iteration_count
    )
    client_key = hmac.new(salted, b"Client Key", hashlib.sha1).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha1).digest()
    stored_key = hashlib.sha1(client_key).digest()
    return {
        "iteration_count": iteration_count,
        "salt": salt,
        "stored_key": stored_key.hex(),
        "server_key": server_key.hex(),
    }


_USERNAME_OK = re.compile(r"^[^\s\"&'/:<>@\x00-\x1f\x7f]+$")


class ProsodyServer:
    """A private Prosody started as a subprocess, for tests.

    ``workdir`` is created if needed and owned by this object; restarting keeps
    the port, the certificates and the data.  Knobs:

    - ``c2s_port``: the c2s port on 127.0.0.1 (default: a free one).
    - ``direct_tls_port``: ``True`` for a free port, or a number, to also
      listen for XEP-0368 direct TLS (``c2s_direct_tls_ports``); off by default.
    - ``domain``: the VirtualHost (default ``localhost``).
    - ``require_encryption``: ``c2s_require_encryption`` (default True).
    - ``tls_protocol``: e.g. ``"tlsv1_2"`` to cap TLS at 1.2 (Prosody 0.12 only
      offers the ``-PLUS`` SCRAM mechanisms with tls-unique, i.e. TLS 1.2).
    - ``tls_tickets``: let clients resume TLS sessions (``options = { no_ticket
      = false }`` in both ``ssl`` tables).  Prosody's default sets OpenSSL's
      ``no_ticket``: it still sends TLS 1.3 tickets but never resumes one.
    - ``allow_registration``: in-band registration (default True, unthrottled).
    - ``modules``: extra modules to enable; ``disabled_modules``: default
      modules to leave out (e.g. ``("smacks",)``).
    - ``extra_config``: Lua appended to the global section of the config.
    - ``host_config``: Lua appended inside the VirtualHost section.
    - ``muc``: True (or a domain) adds a multi-user chat component, ``conference.DOMAIN``,
      with its rooms archived (mod_muc_mam); ``muc_domain`` names it.
    - ``smacks_parser_fix``: load :data:`SMACKS_PARSER_FIX` (default True), so a
      resumed session's input is parsed on its own connection's parser.  False
      gives the stock server (Prosody 0.12 then glues a resumed stream onto a
      stanza fragment the dead connection left behind), e.g. to show that bug.
    - ``iteration_count``: PBKDF2 rounds of the accounts made by ``create_user``.
    - ``log_level``: ``"debug"`` logs stanzas, handy when a test fails.
    - ``startup_timeout``: seconds to wait for the port to open.
    """

    def __init__(
        self,
        workdir: Union[str, Path],
        *,
        c2s_port: Optional[int] = None,
        direct_tls_port: Union[None, bool, int] = None,
        domain: str = "localhost",
        host: str = "127.0.0.1",
        require_encryption: bool = True,
        tls_protocol: Optional[str] = None,
        tls_tickets: bool = False,
        allow_registration: bool = True,
        modules: Iterable[str] = (),
        disabled_modules: Iterable[str] = (),
        extra_config: str = "",
        host_config: str = "",
        muc: Union[bool, str] = False,
        smacks_parser_fix: bool = True,
        iteration_count: int = 4096,
        log_level: str = "info",
        startup_timeout: float = 20.0,
        prosody: Optional[str] = None,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.domain = domain.lower()
        self.host = host
        self._pick_ports = c2s_port is None
        self.port = c2s_port or find_free_port(host)
        self._pick_direct_port = direct_tls_port is True
        if direct_tls_port is True:
            direct_tls_port = find_free_port(host)
        self.direct_tls_port: Optional[int] = direct_tls_port or None
        self.require_encryption = require_encryption
        self.tls_protocol = tls_protocol
        self.tls_tickets = tls_tickets
        self.allow_registration = allow_registration
        skip = set(disabled_modules)
        self.modules: List[str] = [m for m in DEFAULT_MODULES if m not in skip]
        self.modules += [m for m in modules if m not in self.modules]
        self.smacks_parser_fix = smacks_parser_fix
        if smacks_parser_fix and SMACKS_PARSER_FIX_MODULE not in self.modules:
            self.modules.append(SMACKS_PARSER_FIX_MODULE)
        self.extra_config = extra_config
        self.host_config = host_config
        #: The multi-user chat service's domain (``conference.DOMAIN`` for ``muc=True``), or None.
        self.muc_domain: Optional[str] = (
            (f"conference.{self.domain}" if muc is True else str(muc).lower()) if muc else None)
        self.iteration_count = iteration_count
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.prosody = prosody or prosody_binary()

        self.config_path = self.workdir / "prosody.cfg.lua"
        self.data_path = self.workdir / "data"
        self.plugin_path = self.workdir / "plugins"
        self.log_path = self.workdir / "prosody.log"
        self.console_path = self.workdir / "prosody.console"
        self.pid_path = self.workdir / "prosody.pid"
        self.ca_file = self.workdir / "ca.crt"
        self.ca_key_file = self.workdir / "ca.key"
        self.cert_file = self.workdir / (self.domain + ".crt")
        self.key_file = self.workdir / (self.domain + ".key")
        self.admin_socket = self._admin_socket_path()
        self.accounts_path = self.data_path / _store_encode(self.domain) / "accounts"
        self.startup_seconds: Optional[float] = None
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._console: Optional[BinaryIO] = None

    # ------------------------------------------------------------------ setup

    def _admin_socket_path(self) -> Path:
        path = self.workdir / "admin.sock"
        if len(os.fsencode(str(path))) < 100:
            return path
        # AF_UNIX paths are limited to ~107 bytes.
        digest = hashlib.sha1(os.fsencode(str(self.workdir))).hexdigest()[:16]
        return Path("/tmp") / ("fastxmpp-prosody-%s.sock" % digest)

    def prepare(self) -> None:
        """Write certificates, config and plugin (done by ``start()``)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_path.mkdir(exist_ok=True)
        self.plugin_path.mkdir(exist_ok=True)
        self.accounts_path.mkdir(parents=True, exist_ok=True)
        if not (self.cert_file.exists() and self.key_file.exists() and self.ca_file.exists()):
            self._make_certificates()
        (self.plugin_path / "mod_fastxmpp_test.lua").write_text(_TEST_PLUGIN)
        (self.plugin_path / ("mod_%s.lua" % SMACKS_PARSER_FIX_MODULE)).write_text(SMACKS_PARSER_FIX)
        self.config_path.write_text(self.config_text())

    def _make_certificates(self) -> None:
        """A CA and a server certificate for ``domain`` (and the IP) signed by it.

        Made with ``cryptography``; without it, with the ``openssl`` command.
        """
        try:
            import cryptography  # noqa: F401
        except ImportError:
            if shutil.which("openssl"):
                return self._make_certificates_openssl()
            raise ProsodyError("need the cryptography package or the openssl command")
        return self._make_certificates_cryptography()

    def _san_list(self) -> List[str]:
        sans = ["DNS:" + self.domain]
        for ip in dict.fromkeys([self.host, "127.0.0.1"]):
            try:
                sans.append("IP:" + str(ipaddress.ip_address(ip)))
            except ValueError:
                pass
        return sans

    def _make_certificates_openssl(self) -> None:
        def run(*args: str) -> None:
            proc = subprocess.run(
                ("openssl",) + args, cwd=str(self.workdir), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )
            if proc.returncode:
                raise ProsodyError("openssl %s failed: %s" % (args[0], proc.stdout.decode(errors="replace")))

        ext = self.workdir / "cert-ext.cnf"
        ext.write_text(
            "[ca]\nbasicConstraints = critical, CA:TRUE, pathlen:0\n"
            "keyUsage = critical, digitalSignature, keyCertSign, cRLSign\n"
            "subjectKeyIdentifier = hash\n"
            "[leaf]\nbasicConstraints = critical, CA:FALSE\n"
            "keyUsage = critical, digitalSignature, keyAgreement\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectAltName = %s\n"
            "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"
            % ", ".join(self._san_list())
        )
        csr = self.workdir / "server.csr"
        leaf = self.workdir / "server.pem"
        for key in (self.ca_key_file, self.key_file):
            run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key))
        run("req", "-new", "-key", str(self.ca_key_file), "-subj", "/CN=fastxmpp test CA", "-out", str(csr))
        run("x509", "-req", "-in", str(csr), "-signkey", str(self.ca_key_file), "-days", "365",
            "-sha256", "-extfile", str(ext), "-extensions", "ca", "-out", str(self.ca_file))
        run("req", "-new", "-key", str(self.key_file), "-subj", "/CN=" + self.domain, "-out", str(csr))
        run("x509", "-req", "-in", str(csr), "-CA", str(self.ca_file), "-CAkey", str(self.ca_key_file),
            "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "365", "-sha256",
            "-extfile", str(ext), "-extensions", "leaf", "-out", str(leaf))
        os.chmod(self.key_file, 0o600)
        os.chmod(self.ca_key_file, 0o600)
        self.cert_file.write_bytes(leaf.read_bytes() + self.ca_file.read_bytes())
        for tmp in (csr, leaf, ext):
            tmp.unlink()

    def _make_certificates_cryptography(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.datetime.now(datetime.timezone.utc)
        not_before = now - datetime.timedelta(days=1)
        not_after = now + datetime.timedelta(days=365)

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fastxmpp test CA")])
        ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False,
                    key_encipherment=False, data_encipherment=False,
                    key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ca_ski, critical=False)
            .sign(ca_key, hashes.SHA256())
        )

        key = ec.generate_private_key(ec.SECP256R1())
        sans: List[x509.GeneralName] = [
            x509.DNSName(v[4:]) if v.startswith("DNS:") else x509.IPAddress(ipaddress.ip_address(v[3:]))
            for v in self._san_list()
        ]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.domain)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False,
                    key_encipherment=False, data_encipherment=False,
                    key_agreement=True, key_cert_sign=False, crl_sign=False,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )

        pem = serialization.Encoding.PEM
        pkcs8 = serialization.PrivateFormat.PKCS8
        plain = serialization.NoEncryption()
        self.ca_key_file.write_bytes(ca_key.private_bytes(pem, pkcs8, plain))
        self.ca_file.write_bytes(ca_cert.public_bytes(pem))
        self.key_file.write_bytes(key.private_bytes(pem, pkcs8, plain))
        os.chmod(self.key_file, 0o600)
        os.chmod(self.ca_key_file, 0o600)
        # The chain Prosody sends: leaf then CA.
        self.cert_file.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))

    def config_text(self) -> str:
        """The Lua configuration this server runs with."""
        ssl: Dict[str, object] = {"certificate": str(self.cert_file), "key": str(self.key_file)}
        if self.tls_protocol:
            ssl["protocol"] = self.tls_protocol
        if self.tls_tickets:
            ssl["options"] = {"no_ticket": False}
        direct = [self.direct_tls_port] if self.direct_tls_port else []
        log_to = {"levels": {"min": self.log_level}, "to": "file", "filename": str(self.log_path)}
        lines = [
            "-- Written by fastxmpp.testing.prosody; rewritten at each start().",
            "pidfile = %s" % _lua_value(self.pid_path),
            "data_path = %s" % _lua_value(self.data_path),
            "plugin_paths = %s" % _lua_value([self.plugin_path]),
            "log = %s" % _lua_value([log_to]),
            "run_as_root = true -- the tests run as root in CI",
            "admin_socket = %s" % _lua_value(self.admin_socket),
            "use_libevent = false",
            "certificates = %s" % _lua_value(self.workdir),
            "",
            "interfaces = %s" % _lua_value([self.host]),
            "local_interfaces = %s" % _lua_value([self.host]),
            "c2s_interfaces = %s" % _lua_value([self.host]),
            "c2s_ports = %s" % _lua_value([self.port]),
            "c2s_direct_tls_interfaces = %s" % _lua_value([self.host]),
            "c2s_direct_tls_ports = %s" % _lua_value(direct),
            "c2s_direct_tls_ssl = %s" % _lua_value(ssl),
            "legacy_ssl_ports = {}",
            "s2s_ports = {}",
            "s2s_direct_tls_ports = {}",
            "component_ports = {}",
            "http_ports = {}",
            "https_ports = {}",
            "proxy65_ports = {}",
            "",
            "modules_enabled = %s" % _lua_value(self.modules),
            "modules_disabled = %s" % _lua_value(DISABLED_MODULES),
            "",
            "authentication = \"internal_hashed\"",
            "storage = \"internal\"",
            "default_iteration_count = %d" % self.iteration_count,
            "c2s_require_encryption = %s" % _lua_value(self.require_encryption),
            "allow_unencrypted_plain_auth = false",
            "ssl = %s" % _lua_value(ssl),
            "",
            "allow_registration = %s" % _lua_value(self.allow_registration),
            "-- Unset min_seconds_between_registrations/registration_throttle_max",
            "-- mean no registration throttle at all (and 127.0.0.1 is allowlisted).",
            "",
            "-- No rate limits: mod_limits is not loaded; these apply if a test loads it.",
            "limits = { c2s = { rate = \"100mb/s\"; burst = \"10s\" }; c2s_auth = { rate = \"100mb/s\"; burst = \"10s\" } }",
            "c2s_stanza_size_limit = %d" % (10 * 1024 * 1024),
            "c2s_unauthed_stanza_size_limit = %d" % (1024 * 1024),
            "c2s_timeout = 300",
            "smacks_hibernation_time = 60",
            "smacks_max_unacked_stanzas = 0",
            "smacks_max_queue_size = 100000",
            "-- nagle = false: TCP_NODELAY on c2s sockets.  With Prosody's default (Nagle on)",
            "-- the features after a stream restart wait ~40 ms for the client's delayed ACK,",
            "-- which would dominate login times in load runs.",
            "network_settings = { read_timeout = 900; send_timeout = 900; max_send_buffer_size = 64*1024*1024; nagle = false }",
            "statistics = \"internal\"",
            "statistics_interval = \"manual\"",
            "",
        ]
        if self.extra_config:
            lines += ["-- extra_config", self.extra_config, ""]
        lines += ["VirtualHost %s" % _lua_value(self.domain)]
        if self.host_config:
            lines += [self.host_config]
        if self.muc_domain:
            # XEP-0045 rooms, archived (XEP-0313 for rooms); anyone may create one
            lines += ["", "Component %s \"muc\"" % _lua_value(self.muc_domain),
                      "    modules_enabled = { \"muc_mam\" }",
                      "    restrict_room_creation = false",
                      "    muc_room_locking = true",
                      "    max_history_messages = 50"]
        return "\n".join(lines) + "\n"

    # -------------------------------------------------------------- lifecycle

    @property
    def pid(self) -> Optional[int]:
        """The server process's id, or None before :meth:`start`."""
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        """Whether the server process was started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> "ProsodyServer":
        """Start and wait until the c2s port accepts connections.

        A port picked automatically that turns out to be taken is replaced by
        another free one (at most 3 tries); after that the port stays fixed.
        """
        if self.running:
            return self
        for attempt in range(3):
            try:
                return self._start_once()
            except _PortTaken:
                if attempt == 2 or not (self._pick_ports or self._pick_direct_port):
                    raise ProsodyError(
                        "port(s) of %r already in use\n%s" % (self, self.log_tail())
                    ) from None
                if self._pick_ports:
                    self.port = find_free_port(self.host)
                if self._pick_direct_port:
                    self.direct_tls_port = find_free_port(self.host)
        raise AssertionError("unreachable")

    def _start_once(self) -> "ProsodyServer":
        if not self.prosody:
            raise ProsodyError(
                "prosody is not installed (run scripts/install-system-deps as root)"
            )
        self.prepare()
        ports = [self.port] + ([self.direct_tls_port] if self.direct_tls_port else [])
        if any(_port_open(self.host, p) for p in ports):
            raise _PortTaken()
        try:
            log_offset = self.log_path.stat().st_size
        except OSError:
            log_offset = 0
        self._console = open(self.console_path, "ab")
        began = time.monotonic()
        self._proc = subprocess.Popen(
            [self.prosody, "-F", "--config", str(self.config_path)],
            cwd=str(self.workdir),
            stdin=subprocess.DEVNULL,
            stdout=self._console,
            stderr=subprocess.STDOUT,
            preexec_fn=_raise_fd_limit,
            start_new_session=True,  # Ctrl-C in the terminal does not reach it
        )
        deadline = began + self.startup_timeout
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._close_console()
                self._proc = None
                raise ProsodyError(
                    "prosody exited with status %s while starting\n%s" % (code, self.log_tail())
                )
            if all(_port_open(self.host, p) for p in ports):
                break
            failure = self._startup_failure(log_offset)
            if failure:
                self.kill()
                if "Failed to open server port" in failure:
                    raise _PortTaken()
                raise ProsodyError("prosody failed to start: %s\n%s" % (failure, self.log_tail()))
            if time.monotonic() > deadline:
                self.kill()
                raise ProsodyError(
                    "prosody did not open %s:%s within %.0fs\n%s"
                    % (self.host, ports, self.startup_timeout, self.log_tail())
                )
            time.sleep(0.02)
        self.startup_seconds = time.monotonic() - began
        return self

    _FATAL = re.compile(
        rb"(Failed to open server port[^\n]*|Failed to activate service[^\n]*"
        rb"|Error binding encrypted port[^\n]*|Shutting down: [^\n]*)"
    )

    def _startup_failure(self, offset: int) -> Optional[str]:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                m = self._FATAL.search(f.read())
        except OSError:
            return None
        return m.group(1).decode("utf-8", "replace") if m else None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait (SIGKILL after ``timeout`` seconds)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._after_exit()

    def kill(self) -> None:
        """Cut the server hard (SIGKILL): clients see the TCP connection die."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        self._after_exit()

    def _after_exit(self) -> None:
        self._proc = None
        self._close_console()
        # Wait until the port is really closed so a restart can bind it again.
        deadline = time.monotonic() + 5
        while _port_open(self.host, self.port, 0.05) and time.monotonic() < deadline:
            time.sleep(0.02)

    def restart(self) -> "ProsodyServer":
        """Stop and start again: same port, certificates and data."""
        self.stop()
        return self.start()

    def _close_console(self) -> None:
        if self._console is not None:
            self._console.close()
            self._console = None

    def __enter__(self) -> "ProsodyServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:  # a test crashed without stop(): do not leak
        try:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
        except Exception:
            pass

    # ------------------------------------------------------------- accounts

    def jid(self, name: str) -> str:
        """The bare JID of the account ``name`` on this server (lowercased)."""
        return "%s@%s" % (name.lower(), self.domain)

    def _account_file(self, name: str) -> Path:
        name = name.lower()
        if not _USERNAME_OK.match(name):
            raise ValueError("unsupported username %r" % (name,))
        return self.accounts_path / (_store_encode(name) + ".dat")

    def create_user(self, name: str, password: str) -> str:
        """Create (or overwrite) an account; returns its bare JID.

        Works with the server running or stopped.  Usernames are lowercased
        (as nodeprep would); keep passwords ASCII (SASLprep is not applied).
        """
        path = self._account_file(name)
        record = scram_sha1_credentials(password, self.iteration_count)
        body = "return {\n%s};\n" % "".join(
            "\t[%s] = %s;\n" % (_lua_string(k), _lua_value(v)) for k, v in sorted(record.items())
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp%d" % os.getpid())
        tmp.write_text(body)
        os.replace(str(tmp), str(path))  # Prosody never sees half a file
        return self.jid(name)

    def create_users(self, users: Iterable[Union[str, Tuple[str, str], Sequence[str]]], password: Optional[str] = None) -> List[str]:
        """Create many accounts: ``[(name, password), ...]`` or names + ``password``."""
        jids = []
        for item in users:
            if isinstance(item, str):
                if password is None:
                    raise ValueError("give (name, password) pairs or password=")
                jids.append(self.create_user(item, password))
            else:
                name, pw = item
                jids.append(self.create_user(name, pw))
        return jids

    def delete_user(self, name: str) -> None:
        """Delete the account ``name`` (nothing happens when there is none); raises
        ``ValueError`` for a username this fixture does not support."""
        try:
            self._account_file(name).unlink()
        except FileNotFoundError:
            pass

    def user_exists(self, name: str) -> bool:
        """Whether the account ``name`` exists."""
        return self._account_file(name).exists()

    # --------------------------------------------------------- admin / debug

    def shell(self, command: str, timeout: float = 30.0) -> str:
        """Run one admin-shell command (``prosodyctl shell``) in the live server."""
        if not self.running:
            raise ProsodyError("prosody is not running")
        prosodyctl = shutil.which("prosodyctl") or "/usr/bin/prosodyctl"
        proc = subprocess.run(
            [prosodyctl, "--config", str(self.config_path), "shell", command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            cwd=str(self.workdir),
        )
        out = proc.stdout.decode("utf-8", "replace")
        if proc.returncode != 0:
            raise ProsodyError("prosodyctl shell %r failed (%d): %s" % (command, proc.returncode, out))
        return out

    def close_sessions(
        self, jid: Optional[str] = None, condition: str = "system-shutdown", text: Optional[str] = None
    ) -> str:
        """Make the server close c2s sessions with a stream error.

        ``jid``: a bare or full JID, or None for every session.  A client can
        also ask for a stream error on its own session with the
        ``urn:xmpp:fastxmpp:test:0`` iq (see ``TEST_NS``).
        """
        text_arg = _lua_value(text)
        if jid is None:
            return self.shell("c2s:closeall(%s, %s)" % (text_arg, _lua_string(condition)))
        return self.shell("c2s:close(%s, %s, %s)" % (_lua_string(jid), text_arg, _lua_string(condition)))

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's log and console output (for a failing
        test's message)."""
        chunks = []
        for path in (self.log_path, self.console_path):
            try:
                data = path.read_bytes()[-65536:].decode("utf-8", "replace")
            except OSError:
                continue
            tail = "\n".join(data.splitlines()[-lines:])
            if tail.strip():
                chunks.append("--- tail of %s ---\n%s" % (path, tail))
        return "\n".join(chunks) or "(prosody wrote no log)"

    def __repr__(self) -> str:
        pid = self.pid  # not None while running
        state = "running pid %d" % pid if pid is not None and self.running else "stopped"
        return "<ProsodyServer %s on %s:%d, %s>" % (self.domain, self.host, self.port, state)


def _raise_fd_limit() -> None:
    """In the child: lift the soft open-files limit to the hard one (load tests)."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = 1 << 20
        if soft != resource.RLIM_INFINITY and soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
