"""twilio-python against the emulator: subaccounts, account status and API keys through the
SDK's public API (Issue 13). Errors are provoked with fetches and creates, which twilio-python
reports as TwilioRestException (a list reports a plain TwilioException, see
test_outgoing_caller_ids.py)."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from emulator import wait_for


def client_for(emulator, username: str, password: str, account_sid: str | None = None) -> Client:
    """A Client authenticating as `username` (an AccountSid or a key sid) for `account_sid`."""
    client = Client(username, password, account_sid=account_sid)
    client.api.base_url = emulator.url
    return client


def test_subaccount_verified_by_the_parent_and_listed_by_itself(emulator, account, client):
    parent_sid, parent_token = account
    sub = client.api.v2010.accounts.create(friendly_name="Customer 42")
    assert sub.owner_account_sid == parent_sid
    assert sub.status == "active"
    assert sub.type == "Full"
    assert sub.friendly_name == "Customer 42"
    assert sub.auth_token and sub.auth_token != parent_token

    # The parent's credentials act on the subaccount's resources.
    as_parent = client_for(emulator, parent_sid, parent_token, account_sid=sub.sid)
    validation = as_parent.validation_requests.create(phone_number="+14155550142")
    assert validation.account_sid == sub.sid

    # The subaccount's own credentials list the number it now has.
    as_sub = client_for(emulator, sub.sid, sub.auth_token)
    listed = wait_for(lambda: as_sub.outgoing_caller_ids.list(), "caller ID verified in the subaccount")
    assert [c.phone_number for c in listed] == ["+14155550142"]
    assert listed[0].account_sid == sub.sid
    # Verified per account: not on the parent.
    assert client.outgoing_caller_ids.list() == []

    # The parent lists itself and its subaccount; the subaccount only itself.
    family = {a.sid for a in client.api.v2010.accounts.list()}
    assert family == {parent_sid, sub.sid}
    assert [a.sid for a in as_sub.api.v2010.accounts.list()] == [sub.sid]
    fetched = client.api.v2010.accounts(sub.sid).fetch()
    assert fetched.owner_account_sid == parent_sid

    # The subaccount's credentials never reach the parent.
    reaching_parent = client_for(emulator, sub.sid, sub.auth_token, account_sid=parent_sid)
    with pytest.raises(TwilioRestException) as err:
        reaching_parent.validation_requests.create(phone_number="+14155550144")
    assert err.value.status == 401
    assert err.value.code == 20003
    with pytest.raises(TwilioRestException) as err:
        as_sub.api.v2010.accounts(parent_sid).fetch()
    assert (err.value.status, err.value.code) == (401, 20003)


def test_a_key_is_created_used_and_deleted(emulator, account, client):
    sid, _ = account
    seeded = emulator.seed_caller_id(sid, "+14155550143")["sid"]
    key = client.api.v2010.account.new_keys.create(friendly_name="ci key")
    assert key.sid.startswith("SK")
    assert key.secret and key.friendly_name == "ci key"

    as_key = client_for(emulator, key.sid, key.secret, account_sid=sid)
    assert [c.phone_number for c in as_key.outgoing_caller_ids.list()] == ["+14155550143"]

    listed = client.api.v2010.account.keys.list()
    assert [k.sid for k in listed] == [key.sid]
    renamed = client.api.v2010.account.keys(key.sid).update(friendly_name="renamed")
    assert renamed.friendly_name == "renamed"
    # A standard key does not manage keys.
    with pytest.raises(TwilioRestException) as err:
        as_key.api.v2010.account.keys(key.sid).fetch()
    assert (err.value.status, err.value.code) == (401, 20003)

    assert as_key.outgoing_caller_ids(seeded).fetch().phone_number == "+14155550143"
    assert client.api.v2010.account.keys(key.sid).delete() is True
    with pytest.raises(TwilioRestException) as err:
        as_key.outgoing_caller_ids(seeded).fetch()
    assert (err.value.status, err.value.code) == (401, 20003)


def test_a_suspended_subaccount_answers_20005(emulator, account, client):
    sub = client.api.v2010.accounts.create()
    assert sub.friendly_name.startswith("SubAccount Created at ")
    as_sub = client_for(emulator, sub.sid, sub.auth_token)
    assert as_sub.outgoing_caller_ids.list() == []

    suspended = client.api.v2010.accounts(sub.sid).update(status="suspended")
    assert suspended.status == "suspended"
    with pytest.raises(TwilioRestException) as err:
        as_sub.validation_requests.create(phone_number="+14155550145")
    assert err.value.status == 401
    assert err.value.code == 20005
    assert "Account not active" in err.value.msg
    with pytest.raises(TwilioRestException) as err:
        as_sub.api.v2010.accounts(sub.sid).fetch()
    assert (err.value.status, err.value.code) == (401, 20005)
    # The parent still reaches it, and brings it back.
    assert client.api.v2010.accounts(sub.sid).update(status="active").status == "active"
    assert as_sub.outgoing_caller_ids.list() == []

    client.api.v2010.accounts(sub.sid).update(status="closed")
    with pytest.raises(TwilioRestException) as err:
        client.api.v2010.accounts(sub.sid).update(status="active")
    assert (err.value.status, err.value.code) == (400, 21479)
