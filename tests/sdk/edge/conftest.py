"""Fixtures of the edge suite: one emulator with its forward proxy and its TLS listener, and
the environment each real client runs in. The clients are separate processes, so that what
points them at the emulator is their environment alone, as it would be for a user."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))

from emulator import Emulator, free_port, scrub_sdk_environment  # noqa: E402

scrub_sdk_environment()

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


class Edge:
    """The emulator, where its proxy and TLS listener are, and its CA file."""

    def __init__(self, emulator: Emulator, proxy_port: int, tls_port: int, data_dir: Path):
        self.emulator = emulator
        self.proxy = f"http://127.0.0.1:{proxy_port}"
        self.tls_port = tls_port
        self.ca = data_dir / "callerid-emulator-ca.pem"

    def client_env(self, **extra: str) -> dict[str, str]:
        """The caller's environment without proxies or Twilio settings, plus `extra`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
        for name in PROXY_VARS:
            env.pop(name, None)
            env.pop(name.upper(), None)
        env.update(extra)
        return env


@pytest.fixture(scope="session")
def edge():
    data_dir = Path(tempfile.mkdtemp(prefix="callerid-edge-ca-"))
    # The TLS listener on 443 where it can be had, so that a client resolving api.twilio.com
    # to the emulator needs no port either; a free port otherwise.
    for tls_port in (443, free_port()):
        proxy_port = free_port()
        emulator = Emulator(
            "--proxy-listen",
            f"127.0.0.1:{proxy_port}",
            "--tls-listen",
            f"127.0.0.1:{tls_port}",
            "--data-dir",
            str(data_dir),
        )
        try:
            emulator.start()
        except RuntimeError:
            emulator.close()
            continue
        try:
            yield Edge(emulator, proxy_port, tls_port, data_dir)
        finally:
            emulator.close()
        return
    raise RuntimeError("the emulator did not start with its proxy and TLS listener")
