"""Start the real release binary of callerid-emulator and talk to its control API.

Shared by the twilio-python suite (through conftest.py) and the conformance driver
(tests/sdk/conformance/run_conformance.py). Standard library plus `requests` (a dependency of
the `twilio` package) only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_BINARY = REPO_ROOT / "target" / "release" / "callerid-emulator"

DEV_ACCOUNT_SID = "AC" + "a" * 32
DEV_AUTH_TOKEN = "a" * 32

# Environment variables that would change where the SDKs send requests, or which credentials
# they pick up by themselves. The suites remove them (tests/sdk/run unsets them too).
SDK_ENV_VARS = (
    "TWILIO_EDGE",
    "TWILIO_REGION",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_API_KEY",
    "TWILIO_API_SECRET",
)


def scrub_sdk_environment() -> None:
    for name in SDK_ENV_VARS:
        os.environ.pop(name, None)


def free_port() -> int:
    """A port the kernel just handed out for 127.0.0.1 (bound to 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emulator_env() -> dict[str, str]:
    """The environment the emulator runs in: none of the caller's CALLERID_* settings, and
    every proxy-capable HTTP client pointed at a dead loopback proxy for anything that is not
    loopback, so a StatusCallback can never leave the machine whatever URL a test sends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLERID_")}
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        env.pop(name, None)
        env.pop(name.upper(), None)
    dead = f"http://127.0.0.1:{free_port()}"
    env.update(
        HTTP_PROXY=dead,
        HTTPS_PROXY=dead,
        ALL_PROXY=dead,
        NO_PROXY="127.0.0.1,localhost,::1",
    )
    return env


class Emulator:
    """The release binary on a free loopback port with a temporary SQLite file and time scale 0."""

    def __init__(self, *extra_args: str, binary: str | os.PathLike | None = None):
        self.binary = Path(binary or os.environ.get("CALLERID_EMULATOR_BIN") or DEFAULT_BINARY)
        self.extra_args = list(extra_args)
        self.dir = tempfile.TemporaryDirectory(prefix="callerid-sdk-")
        self.db_path = Path(self.dir.name) / "emulator.db"
        self.log_path = Path(self.dir.name) / "emulator.log"
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.url = ""
        self.http = requests.Session()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "Emulator":
        if not self.binary.is_file():
            raise RuntimeError(f"{self.binary} is missing: run `cargo build --release` first")
        last_error = ""
        for _ in range(3):  # the free port may be taken between release and bind: retry
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [
                    str(self.binary),
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    "--database-url",
                    f"sqlite://{self.db_path}",
                    "--time-scale",
                    "0",
                    *self.extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=emulator_env(),
            )
            log.close()
            try:
                self._wait_healthy(deadline=time.monotonic() + 30)
                return self
            except RuntimeError as e:
                last_error = str(e)
                self.stop()
        raise RuntimeError(f"emulator did not start: {last_error}\n{self.log()}")

    def _wait_healthy(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.proc.returncode}")
            try:
                r = self.http.get(f"{self.url}/_emulator/health", timeout=2)
                if r.status_code == 200 and r.json().get("status") == "ok":
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("GET /_emulator/health did not answer ok within 30 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        self.http.close()
        self.dir.cleanup()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- control API -----------------------------------------------------------------------
    def _control(self, method: str, path: str, **kw) -> requests.Response:
        r = self.http.request(method, f"{self.url}/_emulator{path}", timeout=10, **kw)
        if r.status_code >= 300:
            raise RuntimeError(f"{method} /_emulator{path} -> {r.status_code}: {r.text}")
        return r

    def create_account(self, friendly_name: str = "sdk suite") -> tuple[str, str]:
        body = self._control("POST", "/accounts", json={"friendly_name": friendly_name}).json()
        return body["sid"], body["auth_token"]

    def seed_caller_id(self, account_sid: str, phone_number: str, friendly_name: str | None = None) -> dict:
        payload: dict = {"phone_number": phone_number}
        if friendly_name is not None:
            payload["friendly_name"] = friendly_name
        return self._control(
            "POST", f"/accounts/{account_sid}/outgoing-caller-ids", json=payload
        ).json()

    def set_behavior(self, account_sid: str, phone_number: str, behavior: str) -> None:
        phone = urllib.parse.quote(phone_number, safe="")
        self._control("PUT", f"/accounts/{account_sid}/phones/{phone}", json={"behavior": behavior})

    def call(self, call_sid: str) -> dict:
        return self._control("GET", f"/calls/{call_sid}").json()

    def callbacks(self, account_sid: str, call_sid: str | None = None) -> list[dict]:
        params = {"account_sid": account_sid, "limit": 1000}
        if call_sid:
            params["call_sid"] = call_sid
        return self._control("GET", "/callbacks", params=params).json()["callbacks"]

    def requests_journal(self, account_sid: str, limit: int = 1000) -> list[dict]:
        """Twilio API requests of one account, oldest first."""
        params = {"account_sid": account_sid, "limit": limit}
        rows = self._control("GET", "/requests", params=params).json()["requests"]
        return list(reversed(rows))


def wait_for(predicate, what: str, timeout: float = 30.0, interval: float = 0.05):
    """Polls `predicate` until it returns something truthy; fails after a generous deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class CallbackReceiver:
    """A StatusCallback receiver on a free loopback port: records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._lock:
                    receiver.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,  # path and query string, exactly as sent
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body.decode("utf-8"),
                        }
                    )
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = _record
            do_POST = _record

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "CallbackReceiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def received(self) -> list[dict]:
        with self._lock:
            return list(self.requests)

    def __enter__(self) -> "CallbackReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
