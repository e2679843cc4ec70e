"""twilio-python against the emulator: every Outgoing Caller ID operation through the SDK's
public API, and the errors it surfaces."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from conftest import make_client
from emulator import wait_for

SEVEN = [f"+1415555010{i}" for i in range(1, 8)]


def seed_seven(emulator, account_sid: str) -> dict[str, str]:
    """Seven caller IDs through the control API; returns sid -> phone number."""
    return {
        emulator.seed_caller_id(account_sid, phone)["sid"]: phone for phone in SEVEN
    }


def list_requests(emulator, account_sid: str) -> list[dict]:
    return [
        r
        for r in emulator.requests_journal(account_sid)
        if r["method"] == "GET" and r["path"].endswith("/OutgoingCallerIds.json")
    ]


# -- validation requests --------------------------------------------------------------------


def test_validation_request_with_every_parameter(emulator, account, client, receiver):
    sid, _ = account
    callback = f"{receiver.url}/status?case=all-params"
    validation = client.validation_requests.create(
        phone_number="+14155550100",
        friendly_name="Front desk",
        call_delay=5,
        extension="12w#",
        status_callback=callback,
        status_callback_method="GET",
    )
    assert validation.account_sid == sid
    assert re.fullmatch(r"CA[0-9a-f]{32}", validation.call_sid)
    assert validation.friendly_name == "Front desk"
    assert validation.phone_number == "+14155550100"
    assert re.fullmatch(r"[0-9]{6}", validation.validation_code)

    # The SDK put all six parameters on the wire, with Twilio's names.
    create = [r for r in emulator.requests_journal(sid) if r["method"] == "POST"][-1]
    assert create["status"] == 200
    assert create["params"] == {
        "PhoneNumber": "+14155550100",
        "FriendlyName": "Front desk",
        "CallDelay": "5",
        "Extension": "12w#",
        "StatusCallback": callback,
        "StatusCallbackMethod": "GET",
    }

    # The verification call exists for the SDK too, and the callback came by GET.
    call = wait_for(
        lambda: (c := client.calls(validation.call_sid).fetch()).status == "completed" and c,
        "the verification call to complete",
    )
    assert call.to == "+14155550100"
    got = wait_for(receiver.received, "the StatusCallback")
    assert got[0]["method"] == "GET"
    assert got[0]["path"].startswith("/status?case=all-params&")


def test_validation_request_defaults(client):
    validation = client.validation_requests.create(phone_number="+14155550199")
    assert validation.phone_number == "+14155550199"
    assert validation.friendly_name == "(415) 555-0199"


def test_validation_request_accepts_unformatted_us_number(client):
    validation = client.validation_requests.create(phone_number="(415) 555-0198")
    assert validation.phone_number == "+14155550198"


# -- list, page, stream ---------------------------------------------------------------------


def test_list_follows_next_page_uri_across_pages(emulator, account, client):
    sid, _ = account
    seeded = seed_seven(emulator, sid)

    listed = client.outgoing_caller_ids.list(page_size=2)

    assert len(listed) == 7
    assert {c.sid for c in listed} == set(seeded)
    assert {c.phone_number for c in listed} == set(SEVEN)
    assert all(c.account_sid == sid for c in listed)
    # 2 + 2 + 2 + 1: the SDK fetched four pages by following next_page_uri.
    pages = list_requests(emulator, sid)
    assert len(pages) == 4
    assert all(p["query"].get("PageSize") == "2" for p in pages)
    assert "PageToken" not in pages[0]["query"]
    assert all("PageToken" in p["query"] for p in pages[1:])


def test_list_with_limit_stops_early(emulator, account, client):
    sid, _ = account
    seed_seven(emulator, sid)

    listed = client.outgoing_caller_ids.list(limit=5, page_size=2)

    assert len(listed) == 5
    assert len({c.sid for c in listed}) == 5
    assert len(list_requests(emulator, sid)) == 3


def test_list_without_page_size_uses_limit(emulator, account, client):
    sid, _ = account
    seed_seven(emulator, sid)
    assert len(client.outgoing_caller_ids.list()) == 7
    assert len(client.outgoing_caller_ids.list(limit=3)) == 3
    # limit=3 alone makes the SDK ask for PageSize=3
    assert list_requests(emulator, sid)[-1]["query"]["PageSize"] == "3"


def test_list_filters(emulator, account, client):
    sid, _ = account
    seed_seven(emulator, sid)
    emulator.seed_caller_id(sid, "+14155550120", "Sales")
    emulator.seed_caller_id(sid, "+14155550121", "Sales")

    by_number = client.outgoing_caller_ids.list(phone_number="+14155550103")
    assert [c.phone_number for c in by_number] == ["+14155550103"]
    assert by_number[0].friendly_name == "(415) 555-0103"

    by_name = client.outgoing_caller_ids.list(friendly_name="Sales", page_size=1)
    assert sorted(c.phone_number for c in by_name) == ["+14155550120", "+14155550121"]

    both = client.outgoing_caller_ids.list(phone_number="+14155550121", friendly_name="Sales")
    assert [c.phone_number for c in both] == ["+14155550121"]

    assert client.outgoing_caller_ids.list(phone_number="+14155550199") == []
    assert client.outgoing_caller_ids.list(friendly_name="sales") == []  # case-sensitive
    assert client.outgoing_caller_ids.list(phone_number="+14155550103", friendly_name="Sales") == []


def test_page_next_page_previous_page(emulator, account, client):
    sid, _ = account
    seeded = seed_seven(emulator, sid)

    # a Page is an iterator over its records: read each once
    first = client.outgoing_caller_ids.page(page_size=3)
    first_sids = [c.sid for c in first]
    assert len(first_sids) == 3
    second = first.next_page()
    assert second is not None
    second_sids = [c.sid for c in second]
    assert len(second_sids) == 3
    third = second.next_page()
    assert third is not None
    third_sids = [c.sid for c in third]
    assert len(third_sids) == 1
    assert third.next_page() is None
    assert set(first_sids + second_sids + third_sids) == set(seeded)

    back = third.previous_page()
    assert back is not None
    assert [c.sid for c in back] == second_sids
    assert first.previous_page() is None


def test_page_by_token_and_number(emulator, account, client):
    sid, _ = account
    seed_seven(emulator, sid)
    first = client.outgoing_caller_ids.page(page_size=2)
    # page() also takes the token and page number the server handed out in next_page_uri
    query = parse_qs(urlsplit(first.next_page_url).query)
    again = client.outgoing_caller_ids.page(
        page_size=2, page_number=int(query["Page"][0]), page_token=query["PageToken"][0]
    )
    assert [c.sid for c in again] == [c.sid for c in first.next_page()]
    assert not {c.sid for c in again} & {c.sid for c in first}


def test_stream(emulator, account, client):
    sid, _ = account
    seeded = seed_seven(emulator, sid)
    streamed = client.outgoing_caller_ids.stream(page_size=2)
    assert not isinstance(streamed, list)  # a generator: pages are fetched lazily
    assert {c.sid for c in streamed} == set(seeded)
    assert len(list(client.outgoing_caller_ids.stream(limit=3, page_size=2))) == 3


def test_async_client_lists_and_creates(emulator, account):
    sid, token = account
    emulator.seed_caller_id(sid, "+14155550150")

    async def main():
        http_client = AsyncTwilioHttpClient()
        client = Client(sid, token, http_client=http_client)
        client.api.base_url = emulator.url
        try:
            listed = await client.outgoing_caller_ids.list_async(page_size=1)
            created = await client.validation_requests.create_async(phone_number="+14155550151")
            return listed, created
        finally:
            await http_client.close()

    listed, created = asyncio.run(main())
    assert [c.phone_number for c in listed] == ["+14155550150"]
    assert created.phone_number == "+14155550151"


# -- fetch, update, delete ------------------------------------------------------------------


def test_fetch_update_delete(emulator, account, client):
    sid, _ = account
    seeded = emulator.seed_caller_id(sid, "+14155550130", "Reception")
    pn = seeded["sid"]

    fetched = client.outgoing_caller_ids(pn).fetch()
    assert fetched.sid == pn
    assert fetched.account_sid == sid
    assert fetched.phone_number == "+14155550130"
    assert fetched.friendly_name == "Reception"
    assert fetched.date_created is not None and fetched.date_created.tzinfo is not None
    assert fetched.uri == f"/2010-04-01/Accounts/{sid}/OutgoingCallerIds/{pn}.json"

    updated = client.outgoing_caller_ids(pn).update(friendly_name="Back office")
    assert updated.sid == pn
    assert updated.friendly_name == "Back office"
    assert updated.date_updated >= fetched.date_updated
    assert client.outgoing_caller_ids(pn).fetch().friendly_name == "Back office"
    assert client.outgoing_caller_ids.list(friendly_name="Back office")[0].sid == pn

    # the instance returned by fetch has the same methods
    again = fetched.update(friendly_name="Third")
    assert again.friendly_name == "Third"

    response = client.outgoing_caller_ids(pn).delete_with_http_info()
    assert response.status_code == 204
    assert response.data is True
    assert client.outgoing_caller_ids.list() == []

    with pytest.raises(TwilioRestException) as err:
        client.outgoing_caller_ids(pn).fetch()
    assert err.value.status == 404
    assert err.value.code == 20404
    assert err.value.method == "GET"

    with pytest.raises(TwilioRestException) as err:
        client.outgoing_caller_ids(pn).delete()
    assert (err.value.status, err.value.code) == (404, 20404)

    with pytest.raises(TwilioRestException) as err:
        client.outgoing_caller_ids(pn).update(friendly_name="x")
    assert (err.value.status, err.value.code) == (404, 20404)


def test_delete_returns_true(emulator, account, client):
    sid, _ = account
    pn = emulator.seed_caller_id(sid, "+14155550131")["sid"]
    assert client.outgoing_caller_ids(pn).delete() is True


def test_friendly_name_over_64_characters_is_rejected(emulator, account, client):
    sid, _ = account
    pn = emulator.seed_caller_id(sid, "+14155550132")["sid"]
    with pytest.raises(TwilioRestException) as err:
        client.outgoing_caller_ids(pn).update(friendly_name="x" * 65)
    assert (err.value.status, err.value.code) == (400, 20001)
    assert client.outgoing_caller_ids(pn).update(friendly_name="x" * 64).friendly_name == "x" * 64


# -- errors ---------------------------------------------------------------------------------


def test_wrong_token_is_401_20003(emulator, account):
    sid, _ = account
    pn = emulator.seed_caller_id(sid, "+14155550143")["sid"]
    client = make_client(emulator, sid, "0" * 32)

    with pytest.raises(TwilioRestException) as err:
        client.outgoing_caller_ids(pn).fetch()
    assert err.value.status == 401
    assert err.value.code == 20003

    with pytest.raises(TwilioRestException) as err:
        client.validation_requests.create(phone_number="+14155550100")
    assert (err.value.status, err.value.code) == (401, 20003)

    # Lists go through Page, which twilio-python reports as a plain TwilioException that
    # carries the HTTP response (SDK behaviour, same against api.twilio.com).
    with pytest.raises(TwilioException, match="Unable to fetch page") as err:
        client.outgoing_caller_ids.list()
    response = err.value.args[1]
    assert response.status_code == 401
    assert json.loads(response.text)["code"] == 20003


def test_bad_number_is_400_21421(client):
    with pytest.raises(TwilioRestException) as err:
        client.validation_requests.create(phone_number="not-a-number")
    assert err.value.status == 400
    assert err.value.code == 21421
    assert "not-a-number" in err.value.msg


def test_reverification_is_400_21450(emulator, account, client):
    sid, _ = account
    emulator.seed_caller_id(sid, "+14155550140")
    with pytest.raises(TwilioRestException) as err:
        client.validation_requests.create(phone_number="+14155550140")
    assert (err.value.status, err.value.code) == (400, 21450)


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"call_delay": 61}, 21454),
        ({"status_callback": "not a url"}, 21456),
        ({"status_callback_method": "PUT"}, 20001),
        ({"friendly_name": "x" * 65}, 20001),
        ({"extension": "12a"}, 20001),
    ],
)
def test_invalid_create_parameters(client, kwargs, code):
    with pytest.raises(TwilioRestException) as err:
        client.validation_requests.create(phone_number="+14155550141", **kwargs)
    assert (err.value.status, err.value.code) == (400, code)


def test_other_accounts_caller_id_is_404(emulator, account, client):
    other_sid, _ = emulator.create_account("other")
    foreign = emulator.seed_caller_id(other_sid, "+14155550142")["sid"]
    with pytest.raises(TwilioRestException) as err:
        client.outgoing_caller_ids(foreign).fetch()
    assert (err.value.status, err.value.code) == (404, 20404)


def test_dev_account_works_with_its_documented_credentials(emulator):
    client = make_client(emulator, "AC" + "a" * 32, "a" * 32)
    page = client.outgoing_caller_ids.page(page_size=1)
    assert page is not None


# -- how the SDK is pointed at the emulator -------------------------------------------------


class RecordingHttpClient(TwilioHttpClient):
    """Records the URL the SDK would request instead of sending it."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def request(self, method, url, *args, **kwargs):
        self.urls.append(url)
        raise RuntimeError("not sent")


@pytest.mark.parametrize(
    "environment, stays_on_emulator",
    [
        ({}, True),
        ({"TWILIO_EDGE": "sydney"}, False),
        ({"TWILIO_REGION": "au1"}, False),
    ],
)
def test_base_url_holds_only_without_edge_or_region(emulator, environment, stays_on_emulator):
    """Documents why the suites (and users) must unset TWILIO_EDGE / TWILIO_REGION: with either
    set, the SDK rewrites the host of `base_url`, so requests no longer reach the emulator."""
    http_client = RecordingHttpClient()
    client = Client("AC" + "a" * 32, "a" * 32, http_client=http_client, environment=environment)
    client.api.base_url = emulator.url
    with pytest.raises(RuntimeError, match="not sent"):
        client.outgoing_caller_ids.list()
    url = http_client.urls[0]
    assert url.startswith(emulator.url + "/2010-04-01/") is stays_on_emulator, url
