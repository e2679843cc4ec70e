"""twilio-python against the emulator's fault rules (Issue 13): an injected 429 as
TwilioRestException, an injected delay in the time the SDK call takes, and a dropped
connection as the SDK's connection error (requests' ConnectionError)."""

from __future__ import annotations

import time

import pytest
import requests
from twilio.base.exceptions import TwilioRestException


def add_fault(emulator, rule: dict) -> dict:
    return emulator._control("POST", "/faults", json=rule).json()


@pytest.fixture
def caller_id(emulator, account) -> dict:
    return emulator.seed_caller_id(account[0], "+14155550100", "Front desk")


def test_injected_429_is_a_rest_exception(emulator, account, client, caller_id):
    add_fault(emulator, {"account_sid": account[0], "times": 1,
                         "action": {"status": 429, "code": 20429, "retry_after": 1}})
    with pytest.raises(TwilioRestException) as raised:
        client.outgoing_caller_ids(caller_id["sid"]).fetch()
    assert (raised.value.status, raised.value.code) == (429, 20429)
    assert client.outgoing_caller_ids(caller_id["sid"]).fetch().friendly_name == "Front desk"


def test_injected_delay_shows_in_the_sdk_call(emulator, account, client, caller_id):
    add_fault(emulator, {"account_sid": account[0], "times": 1, "action": {"delay_ms": 500}})
    started = time.monotonic()
    fetched = client.outgoing_caller_ids(caller_id["sid"]).fetch()
    elapsed = time.monotonic() - started
    assert fetched.friendly_name == "Front desk"
    assert elapsed >= 0.5, f"the SDK call took {elapsed:.3f} s, less than the 0.5 s delay"


def test_dropped_connection_is_a_connection_error(emulator, account, client, caller_id):
    rule = add_fault(emulator, {"account_sid": account[0], "times": 1, "action": {"drop": True}})
    with pytest.raises(requests.exceptions.ConnectionError):
        client.outgoing_caller_ids(caller_id["sid"]).fetch()
    assert client.outgoing_caller_ids(caller_id["sid"]).fetch().sid == caller_id["sid"]
    journal = emulator.requests_journal(account[0])
    assert [(r["status"], (r["fault"] or {}).get("id")) for r in journal] == [
        (0, rule["id"]),
        (200, None),
    ]
