"""A sample locustfile for fastxmpp's ``XMPPUser`` (needs ``pip install locust``).

Against the private Prosody of ``python -m fastxmpp load`` or any server whose
accounts ``load1..loadN@DOMAIN`` exist with password ``load-test-pw``::

    locust -f examples/locustfile.py --headless -u 20 -r 10 -t 30s \\
        --host xmpp://127.0.0.1:5222

Distributed mode needs nothing more: run ``--master`` and any number of
``--worker`` processes with this file; the master gives each worker its own
account numbers, so ``-u N`` users log in as ``load1..loadN`` across all of them.

Settings come from the environment: ``XMPP_DOMAIN`` (default: the host),
``XMPP_PASSWORD``, ``XMPP_USER_PREFIX``, ``XMPP_CA_FILE``, ``XMPP_INSECURE=1``.

To log in with accounts of your own, list them in a CSV file of ``jid,password`` lines
(a ``jid,password`` header line is allowed) and name it in ``XMPP_ACCOUNTS_FILE``: user
number ``n`` takes the file's ``n``-th account, unique over the workers too, and
``XMPP_DOMAIN``, ``XMPP_PASSWORD`` and ``XMPP_USER_PREFIX`` are then not used::

    XMPP_ACCOUNTS_FILE=accounts.csv locust -f examples/locustfile.py --headless \
        -u 20 -r 10 -t 30s --host xmpp://xmpp.example.net:5222

Each simulated user logs in once (a ``login`` request in Locust's table), then
pings the server (``iq:ping``) and sends itself chat messages timed until the
server delivers them back (``message:echo``).
"""
from __future__ import annotations

import os

from locust import between, task

from fastxmpp.load.locust import XMPPUser


class XMPPChatUser(XMPPUser):
    domain = os.environ.get("XMPP_DOMAIN") or None
    password = os.environ.get("XMPP_PASSWORD", "load-test-pw")
    user_prefix = os.environ.get("XMPP_USER_PREFIX", "load")
    ca_file = os.environ.get("XMPP_CA_FILE") or None
    insecure = os.environ.get("XMPP_INSECURE", "") not in ("", "0")
    accounts_file = os.environ.get("XMPP_ACCOUNTS_FILE") or None  # a CSV of jid,password
    wait_time = between(0.1, 0.5)

    @task(3)
    def echo_message(self) -> None:
        self.message_round_trip(body="hello from locust")

    @task(1)
    def ping_server(self) -> None:
        self.ping()
