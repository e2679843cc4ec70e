"""Fixtures of the twilio-python suite: one real emulator process per test module, an isolated
account per test, and a twilio `Client` pointed at the emulator the way a user would."""

from __future__ import annotations

import pytest
from twilio.rest import Client

from emulator import CallbackReceiver, Emulator, scrub_sdk_environment

# TWILIO_EDGE / TWILIO_REGION would rewrite the host the SDK sends to, and TWILIO_ACCOUNT_SID /
# TWILIO_AUTH_TOKEN would supply credentials nobody asked for. tests/sdk/run unsets them; this
# covers a bare `pytest` too.
scrub_sdk_environment()


@pytest.fixture(scope="module")
def emulator():
    emu = Emulator().start()
    try:
        yield emu
    finally:
        emu.close()


@pytest.fixture
def account(emulator) -> tuple[str, str]:
    """A fresh account (sid, auth token) created through the control API for this test only."""
    return emulator.create_account()


def make_client(emulator: Emulator, sid: str, token: str) -> Client:
    client = Client(sid, token)
    client.api.base_url = emulator.url
    return client


@pytest.fixture
def client(emulator, account) -> Client:
    return make_client(emulator, *account)


@pytest.fixture
def receiver():
    with CallbackReceiver() as r:
        yield r
