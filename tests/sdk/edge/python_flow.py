"""The whole verification flow with twilio-python as a user writes it: no base URL anywhere.
Where requests go is decided by the environment alone (HTTPS_PROXY and REQUESTS_CA_BUNDLE),
or, with EDGE_RESOLVE_TO set, by api.twilio.com resolving to that address (as a hosts-file
entry or a container network alias would). Prints one JSON object with what it saw."""

import json
import os
import socket
import sys
import time

if os.environ.get("EDGE_RESOLVE_TO"):
    _real = socket.getaddrinfo

    def _resolve(host, *args, **kwargs):
        if host == "api.twilio.com":
            host = os.environ["EDGE_RESOLVE_TO"]
        return _real(host, *args, **kwargs)

    socket.getaddrinfo = _resolve

from twilio.rest import Client  # noqa: E402

sid, token, phone = sys.argv[1], sys.argv[2], sys.argv[3]
client = Client(sid, token)
request = client.validation_requests.create(phone_number=phone, friendly_name="python, no base_url")
deadline = time.monotonic() + 30
found = []
while time.monotonic() < deadline and not found:
    found = client.outgoing_caller_ids.list(phone_number=phone)
    time.sleep(0.05)
caller_id = found[0]
renamed = client.outgoing_caller_ids(caller_id.sid).update(friendly_name="renamed by python")
call = client.calls(request.call_sid).fetch()
deleted = client.outgoing_caller_ids(caller_id.sid).delete()
print(
    json.dumps(
        {
            "validation_code": request.validation_code,
            "call_sid": request.call_sid,
            "caller_id_sid": caller_id.sid,
            "renamed": renamed.friendly_name,
            "call_status": call.status,
            "deleted": deleted,
        }
    )
)
