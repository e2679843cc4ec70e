"""The whole verification flow through twilio-python: validation request with a StatusCallback
to a receiver inside the test, the simulated callee keys the code, the signed callback arrives
and the SDK's own RequestValidator accepts it, and the new caller ID is listed by the SDK."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from twilio.request_validator import RequestValidator

from emulator import wait_for


def callback_url_and_params(receiver, request: dict) -> tuple[str, dict]:
    """The URL the emulator requested and the parameters it sent, as a webhook handler sees them."""
    url = receiver.url + request["path"]
    if request["method"] == "POST":
        assert request["headers"]["content-type"].startswith("application/x-www-form-urlencoded")
        return url, dict(parse_qsl(request["body"], keep_blank_values=True))
    return url, {}


def sent_params(receiver, request: dict) -> dict:
    if request["method"] == "POST":
        return dict(parse_qsl(request["body"], keep_blank_values=True))
    return dict(parse_qsl(urlsplit(request["path"]).query, keep_blank_values=True))


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_verification_success_flow(emulator, account, client, receiver, method):
    sid, token = account
    number = "+14155550160" if method == "POST" else "+14155550161"
    status_callback = f"{receiver.url}/twilio/status?flow=sdk&method={method.lower()}"

    validation = client.validation_requests.create(
        phone_number=number,
        friendly_name=f"Verified by {method}",
        status_callback=status_callback,
        status_callback_method=method,
    )
    assert re.fullmatch(r"[0-9]{6}", validation.validation_code)

    # The simulated callee keys the code (default behaviour: correct-code); wait for the callback.
    request = wait_for(lambda: receiver.received(), "the StatusCallback")[0]
    assert request["method"] == method
    assert request["headers"]["user-agent"] == "TwilioProxy/1.1"
    assert request["headers"].get("i-twilio-idempotency-token")

    params = sent_params(receiver, request)
    assert params["VerificationStatus"] == "success"
    assert re.fullmatch(r"PN[0-9a-f]{32}", params["OutgoingCallerIdSid"])
    assert params["CallSid"] == validation.call_sid
    assert params["AccountSid"] == sid
    assert params["To"] == number
    assert params["CallStatus"] == "completed"
    assert params["Direction"] == "outbound-api"
    assert params["ApiVersion"] == "2010-04-01"
    if method == "GET":  # our own query string is kept in front of Twilio's parameters
        assert request["path"].startswith("/twilio/status?flow=sdk&method=get&")
        assert params["flow"] == "sdk"

    # The SDK's own validator accepts the signature...
    signature = request["headers"]["x-twilio-signature"]
    url, form = callback_url_and_params(receiver, request)
    validator = RequestValidator(token)
    assert validator.validate(url, form, signature)

    # ...and rejects it once anything signed is changed.
    if method == "POST":
        tampered = dict(form, VerificationStatus="failed")
        assert not validator.validate(url, tampered, signature)
        assert not validator.validate(url, {**form, "Extra": "1"}, signature)
    else:
        parts = urlsplit(url)
        query = [(k, "failed" if k == "VerificationStatus" else v) for k, v in parse_qsl(parts.query)]
        assert not validator.validate(urlunsplit(parts._replace(query=urlencode(query))), {}, signature)
    assert not RequestValidator("f" * 32).validate(url, form, signature)

    # The new caller ID is there for the SDK.
    pn = params["OutgoingCallerIdSid"]
    listed = client.outgoing_caller_ids.list(phone_number=number)
    assert [c.sid for c in listed] == [pn]
    assert listed[0].friendly_name == f"Verified by {method}"
    assert client.outgoing_caller_ids(pn).fetch().phone_number == number
    assert pn in {c.sid for c in client.outgoing_caller_ids.list()}

    # Exactly one callback for the call.
    assert len(receiver.received()) == 1


@pytest.mark.parametrize(
    "number, call_status",
    [("+15005550002", "completed"), ("+15005550004", "busy"), ("+15005550003", "no-answer")],
)
def test_verification_failure_flow(emulator, account, client, receiver, number, call_status):
    """Magic numbers: wrong code, busy, no answer. The callback says failed, nothing is listed."""
    validation = client.validation_requests.create(
        phone_number=number, status_callback=f"{receiver.url}/status"
    )
    request = wait_for(lambda: receiver.received(), "the StatusCallback")[0]
    params = sent_params(receiver, request)
    assert params["VerificationStatus"] == "failed"
    assert "OutgoingCallerIdSid" not in params
    assert params["CallSid"] == validation.call_sid
    assert params["CallStatus"] == call_status
    url, form = callback_url_and_params(receiver, request)
    assert RequestValidator(account[1]).validate(url, form, request["headers"]["x-twilio-signature"])
    assert client.outgoing_caller_ids.list() == []
    assert client.calls(validation.call_sid).fetch().status == call_status


def test_verification_without_callback_still_creates_the_caller_id(emulator, account, client):
    validation = client.validation_requests.create(phone_number="+14155550162")
    listed = wait_for(
        lambda: client.outgoing_caller_ids.list(phone_number="+14155550162"),
        "the caller ID to be verified",
    )
    assert listed[0].phone_number == validation.phone_number
    assert emulator.call(validation.call_sid)["verification_status"] == "success"
