"""TLS client contexts for the drivers (STARTTLS and Direct TLS alike).

This module imports :mod:`ssl` and is meant for the I/O drivers
(:mod:`fastxmpp.aio`, :mod:`fastxmpp.sync`), not for the sans-IO core.

XEP-0368 section 3: Direct TLS certificates are validated exactly as for
STARTTLS (RFC 6120 13.7.2), SNI is the JID's domain, and ALPN, when used, is
``xmpp-client``; one context serves both connection methods.
"""
from __future__ import annotations

import logging
import os
import ssl
from typing import Optional, Union

from .connect import ascii_domain, ip_literal

__all__ = ["ALPN_CLIENT", "make_client_context", "server_hostname_for"]

#: ALPN protocol id for client-to-server streams (XEP-0368, IANA registry).
ALPN_CLIENT = "xmpp-client"

log = logging.getLogger("fastxmpp.tls")

_PathLike = Union[str, "os.PathLike[str]"]


def make_client_context(
    *,
    ca_file: Optional[_PathLike] = None,
    ca_data: Optional[Union[str, bytes]] = None,
    verify: bool = True,
    client_cert: Optional[_PathLike] = None,
    client_key: Optional[_PathLike] = None,
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
) -> ssl.SSLContext:
    """A client :class:`ssl.SSLContext` that verifies the server by default.

    * ``verify=True`` (default): the system trust store, plus ``ca_file`` (PEM
      file) and ``ca_data`` (PEM text or DER bytes) when given; the certificate
      chain and the host name are checked (``check_hostname`` on).
    * ``verify=False``: no verification at all, and a WARNING on the
      ``fastxmpp.tls`` logger.  For tests and private deployments only.
    * ``client_cert``/``client_key``: a certificate for SASL EXTERNAL
      (``client_key`` may be omitted when the key is inside ``client_cert``).
    * ``min_version``: the lowest TLS version offered (TLS 1.2 by default).

    ALPN offers ``xmpp-client`` (XEP-0368).  Wrap sockets with
    ``server_hostname=server_hostname_for(jid.domain)``.
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = min_version
    if verify:
        if ca_file is not None or ca_data is not None:
            ctx.load_verify_locations(cafile=ca_file, cadata=ca_data)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        log.warning(
            "TLS certificate verification is disabled: the server's identity is not checked"
            " and the connection is open to man-in-the-middle attacks"
        )
        ctx.check_hostname = False  # must come before CERT_NONE
        ctx.verify_mode = ssl.CERT_NONE
    if client_key is not None and client_cert is None:
        raise ValueError("client_key given without client_cert")
    if client_cert is not None:
        ctx.load_cert_chain(client_cert, client_key)
    ctx.set_alpn_protocols([ALPN_CLIENT])
    return ctx


def server_hostname_for(domain: str) -> str:
    """The ``server_hostname`` to wrap with: SNI and the name the certificate must match.

    It is the JID's domain (RFC 6120 13.7.2.1, XEP-0368), not the SRV target,
    in A-label form without the trailing dot.  An IP literal gives the bare
    address (``"[::1]"`` -> ``"::1"``): :mod:`ssl` then sends no SNI and checks
    the certificate's IP addresses.
    """
    literal = ip_literal(domain)
    if literal is not None:
        return literal
    return ascii_domain(domain)
