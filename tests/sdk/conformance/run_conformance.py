"""Conformance of the emulator against Twilio's OpenAPI description, with schemathesis.

Starts the real release binary (free port, temporary SQLite file, time scale 0), seeds data,
and runs, for each spec file (OutgoingCallerIds and validation requests; Accounts and Keys):

  1. valid   - schemathesis, dev-account credentials, every documented operation, all phases
               (examples, coverage, fuzzing, stateful), positive and negative data;
               checks not_a_server_error, response_schema_conformance, content_type_conformance.
  2. wrong   - schemathesis with a wrong auth token: every answer must be 401 / 20003.
  3. garbage - schemathesis in negative mode (bodies and parameters that break the schema),
               then raw garbage bodies (random bytes and content types, from hypothesis)
               sent to every operation: never a 5xx, always a Twilio error body.

On top of schemathesis' checks, every response recorded in its NDJSON reports is checked here:
no 5xx, errors carry Twilio's JSON error body, and a 4xx on schema-valid (positive) input must
be one Twilio itself gives for that input (ALLOWED_POSITIVE_REJECTIONS, each with its reason).

Usage: python run_conformance.py [--max-examples N] [--seed N]
Exit status 0 only if every run and every check passed.
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))

import requests  # noqa: E402
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from emulator import (  # noqa: E402
    DEV_ACCOUNT_SID,
    DEV_AUTH_TOKEN,
    CallbackReceiver,
    Emulator,
    scrub_sdk_environment,
    wait_for,
)

# The spec files, each run on its own: (name, file).
SPECS = [
    ("caller-ids", HERE / "twilio-api-v2010-outgoing-caller-ids.openapi.json"),
    ("accounts", HERE / "twilio-api-v2010-accounts-and-keys.openapi.json"),
]
REPORT_DIR = HERE / "report"
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"

# A 4xx answer to schema-valid input is an emulator bug unless Twilio gives it too. The spec
# leaves these constraints to its descriptions (or to server state), so schemathesis' positive
# data can break them: (operation, code, message pattern) -> why Twilio rejects it.
ALLOWED_POSITIVE_REJECTIONS = [
    ("*", 20404, r"^The requested resource .* was not found$",
     "a generated sid that names no resource (the sid patterns allow any hex)"),
    ("POST OutgoingCallerIds", 21421, r"is not a valid phone number",
     "PhoneNumber is `format: phone-number`, which JSON Schema does not constrain; Twilio rejects non-numbers with 21421"),
    ("POST OutgoingCallerIds", 21450, r"already verified",
     "the number was verified by an earlier case; Twilio answers 21450"),
    ("POST OutgoingCallerIds", 21454, r"CallDelay",
     "CallDelay: the schema says integer, the description says 0 to 60 (21454); the spec's own example is 100"),
    ("POST OutgoingCallerIds", 20001, r"FriendlyName",
     "FriendlyName: the description says up to 64 characters; control characters cannot be "
     "written in the XML representation (README 'Errors')"),
    ("POST OutgoingCallerIds/{Sid}", 20001, r"FriendlyName",
     "FriendlyName: the description says up to 64 characters; empty is no name; control "
     "characters cannot be written in the XML representation (README 'Errors')"),
    ("POST OutgoingCallerIds", 20001, r"Extension",
     "Extension: 'the digits to dial' (digits, *, #, w; at most 32, README 'Errors')"),
    ("POST OutgoingCallerIds", 20001, r"Missing required parameter PhoneNumber",
     "an empty PhoneNumber is a missing one"),
    ("GET OutgoingCallerIds", 20001, r"PageToken is required for paging",
     "Page > 0 without the PageToken the API handed out (Page is 'simply for client state')"),
    ("GET OutgoingCallerIds", 20001, r"^Page must be at most 4294967295",
     "Page: the schema sets no maximum; a page index past 2^32-1 is refused with a message that says so"),
    ("GET OutgoingCallerIds", 21481, r"PageToken",
     "a PageToken the API never handed out ('This is provided by the API')"),
    # Accounts and Keys.
    ("GET Accounts/{Sid}", 20003, r"^Authenticate$",
     "a generated AccountSid names no account the dev account's credentials reach (neither it nor "
     "one of its subaccounts): 401 20003, as for any other account's path (twilio-behavior §8, §14)"),
    ("POST Accounts/{Sid}", 20003, r"^Authenticate$",
     "a generated AccountSid names no account the dev account's credentials reach (as for GET)"),
    ("POST Accounts/{Sid}", 21100, r"status",
     "Status of the dev account itself: only a parent changes a subaccount's status; a main "
     "account's status is not the API's to change (Twilio: 'you cannot suspend your main account')"),
    ("POST Accounts/{Sid}", 21479, r"closed",
     "Status of a subaccount an earlier case closed: a closed account is closed for good"),
    ("POST Accounts", 20001, r"FriendlyName", "FriendlyName: up to 64 characters, no control characters"),
    ("POST Accounts/{Sid}", 20001, r"FriendlyName", "FriendlyName: up to 64 characters, no control characters"),
    ("POST Keys", 20001, r"FriendlyName", "FriendlyName: 'It can be up to 64 characters long'"),
    ("POST Keys/{Sid}", 20001, r"FriendlyName", "FriendlyName: 'It can be up to 64 characters long'"),
    ("GET Accounts", 20001, r"PageToken is required for paging", "as for the caller-ID list"),
    ("GET Keys", 20001, r"PageToken is required for paging", "as for the caller-ID list"),
    ("GET Accounts", 20001, r"^Page must be at most 4294967295", "as for the caller-ID list"),
    ("GET Keys", 20001, r"^Page must be at most 4294967295", "as for the caller-ID list"),
    ("GET Accounts", 21481, r"PageToken", "a PageToken the API never handed out"),
    ("GET Keys", 21481, r"PageToken", "a PageToken the API never handed out"),
]


def log(msg: str = "") -> None:
    print(msg, flush=True)


# -- the spec -------------------------------------------------------------------------------


def patched_spec(source: Path, out: Path, callback_url: str) -> list[str]:
    """Writes the spec with the patches below; returns what was patched.

    The list envelope's `uri`, `first_page_uri`, `next_page_uri` and `previous_page_uri` are
    declared `format: uri` (an absolute URI), yet the spec's own example, Twilio's docs and every
    real response carry a path relative to https://api.twilio.com ("/2010-04-01/..."), which is
    what the SDKs expect (they prepend their base URL). Their format becomes `uri-reference`;
    every other schema constraint is kept.
    """
    spec = json.loads(source.read_text())
    patched = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            for status, response in op["responses"].items():
                for media in response.get("content", {}).values():
                    props = media.get("schema", {}).get("properties", {})
                    for name, prop in props.items():
                        if name.endswith("uri") and prop.get("format") == "uri":
                            prop["format"] = "uri-reference"
                            patched.append(f"{method.upper()} {path} {status} {name}: format uri -> uri-reference")
            # Test data, not schema: the request example's StatusCallback (http://www.example.com)
            # becomes the loopback receiver, so no example ever asks for a callback off the machine.
            for media in op.get("requestBody", {}).get("content", {}).values():
                for example in media.get("examples", {}).values():
                    value = example.get("value", {})
                    if "StatusCallback" in value:
                        patched.append(f"{method.upper()} {path} request example StatusCallback "
                                       f"{value['StatusCallback']} -> {callback_url}")
                        value["StatusCallback"] = callback_url
    out.write_text(json.dumps(spec, indent=1))
    return patched


def operations_in_spec(source: Path) -> list[str]:
    spec = json.loads(source.read_text())
    return [
        f"{m.upper()} {p}"
        for p, item in spec["paths"].items()
        for m in item
        if m in ("get", "post", "put", "delete", "patch")
    ]


def short_operation(label: str) -> str:
    """'POST /2010-04-01/Accounts/{AccountSid}/OutgoingCallerIds/{Sid}.json' -> 'POST OutgoingCallerIds/{Sid}',
    'GET /2010-04-01/Accounts/{Sid}.json' -> 'GET Accounts/{Sid}'."""
    method, _, path = label.partition(" ")
    path = path.replace("/2010-04-01/Accounts/{AccountSid}/", "").replace("/2010-04-01/", "").replace(".json", "")
    return f"{method} {path}"


# -- data -----------------------------------------------------------------------------------


def seed(emu: Emulator, receiver: CallbackReceiver) -> dict:
    """Caller IDs and completed calls on the dev account, so fetch/update/delete and the Call
    GET have real sids to work on."""
    caller_ids = [
        emu.seed_caller_id(DEV_ACCOUNT_SID, f"+1415555020{i}", f"Seed {i}")["sid"] for i in range(6)
    ]
    calls = []
    for i in range(3):
        r = requests.post(
            f"{emu.url}/2010-04-01/Accounts/{DEV_ACCOUNT_SID}/OutgoingCallerIds.json",
            auth=(DEV_ACCOUNT_SID, DEV_AUTH_TOKEN),
            data={"PhoneNumber": f"+1415555021{i}", "StatusCallback": f"{receiver.url}/seed"},
            timeout=10,
        )
        r.raise_for_status()
        calls.append(r.json()["call_sid"])
    for call in calls:
        wait_for(lambda: emu.call(call)["status"] == "completed", f"call {call} to complete")
    caller_ids += [
        c["sid"]
        for c in requests.get(
            f"{emu.url}/2010-04-01/Accounts/{DEV_ACCOUNT_SID}/OutgoingCallerIds.json",
            params={"PhoneNumber": f"+1415555021{i}"},
            auth=(DEV_ACCOUNT_SID, DEV_AUTH_TOKEN),
            timeout=10,
        ).json()["outgoing_caller_ids"]
        for i in range(3)
    ]
    phone_numbers = (
        [f"+1415555{n:04d}" for n in range(300, 340)]
        + ["+15005550001", "+15005550002", "+15005550003", "+15005550004", "+442071838750"]
        + ["(415) 555-0350", "415-555-0351", "4155550352"]
    )
    auth = (DEV_ACCOUNT_SID, DEV_AUTH_TOKEN)
    subaccounts = [
        requests.post(f"{emu.url}/2010-04-01/Accounts.json", data={"FriendlyName": f"Seed sub {i}"},
                      auth=auth, timeout=10).json()["sid"]
        for i in range(3)
    ]
    keys = [
        requests.post(f"{emu.url}/2010-04-01/Accounts/{DEV_ACCOUNT_SID}/Keys.json",
                      data={"FriendlyName": f"Seed key {i}"}, auth=auth, timeout=10).json()["sid"]
        for i in range(4)
    ]
    return {"caller_ids": caller_ids, "calls": calls, "phone_numbers": phone_numbers,
            "accounts": [DEV_ACCOUNT_SID] + subaccounts, "keys": keys}


def toml_string(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid TOML basic string for these values


def toml_array(values: list[str]) -> str:
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


def write_config(path: Path, data: dict, callback_url: str) -> None:
    """schemathesis.toml: the dev account in every path, real sids part of the time, real phone
    numbers part of the time, and every StatusCallback on a loopback receiver."""
    path.write_text(
        f"""# generated by run_conformance.py
[parameters]
"path.AccountSid" = {toml_string(DEV_ACCOUNT_SID)}

[dictionaries.caller_id_sids]
values = {toml_array(data["caller_ids"])}

[dictionaries.call_sids]
values = {toml_array(data["calls"])}

[dictionaries.phone_numbers]
values = {toml_array(data["phone_numbers"])}

[dictionaries.account_sids]
values = {toml_array(data["accounts"])}

[dictionaries.key_sids]
values = {toml_array(data["keys"])}

[[operations]]
include-path-regex = "/Accounts/\\\\{{Sid\\\\}}"
parameters = {{ "path.Sid" = {{ dictionary = "account_sids", probability = 0.7 }} }}

[[operations]]
include-path-regex = "/Keys/\\\\{{Sid\\\\}}"
parameters = {{ "path.Sid" = {{ dictionary = "key_sids", probability = 0.6 }} }}

[[operations]]
include-path-regex = "/OutgoingCallerIds/\\\\{{Sid\\\\}}"
parameters = {{ "path.Sid" = {{ dictionary = "caller_id_sids", probability = 0.6 }} }}

[[operations]]
include-path-regex = "/Calls/"
parameters = {{ "path.Sid" = {{ dictionary = "call_sids", probability = 0.6 }} }}

[[operations]]
include-path-regex = "/OutgoingCallerIds\\\\.json$"
include-method = "POST"
parameters = {{ "body.PhoneNumber" = {{ dictionary = "phone_numbers", probability = 0.6 }}, "body.StatusCallback" = {toml_string(callback_url)} }}

[[operations]]
include-path-regex = "/OutgoingCallerIds\\\\.json$"
include-method = "GET"
parameters = {{ "query.PhoneNumber" = {{ dictionary = "phone_numbers", probability = 0.3 }} }}
"""
    )


# -- schemathesis runs ----------------------------------------------------------------------


def run_schemathesis(name: str, emu: Emulator, spec: Path, config: Path, auth: str, extra: list[str],
                     seed: str | None) -> dict:
    out = REPORT_DIR / name
    out.mkdir(parents=True, exist_ok=True)
    json_report, ndjson_report = out / "report.json", out / "events.ndjson"
    for f in (json_report, ndjson_report):
        f.unlink(missing_ok=True)
    cmd = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file", str(config),
        "run", str(spec),
        "--url", emu.url,
        "--auth", auth,
        "--checks", CHECKS,
        "--report", "json,ndjson",
        "--report-json-path", str(json_report),
        "--report-ndjson-path", str(ndjson_report),
        "--generation-database", "none",
        "--no-color",
        "--output-truncate", "true",
        *extra,
    ]
    if seed:
        cmd += ["--seed", seed]
    log(f"\n=== schemathesis run `{name}`: {' '.join(a if a != auth else '<auth>' for a in cmd[1:])}")
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=out, text=True, capture_output=True)
    elapsed = time.monotonic() - started
    output = proc.stdout + proc.stderr
    (out / "output.txt").write_text(output)
    if proc.returncode != 0 or not json_report.exists():
        log(output[-20000:])
    else:  # the summary only
        summary = output[output.find("SUMMARY") - 40:] if "SUMMARY" in output else output[-3000:]
        log(summary.rstrip())
    report = json.loads(json_report.read_text()) if json_report.exists() else {}
    return {
        "name": name,
        "returncode": proc.returncode,
        "elapsed": elapsed,
        "report": report,
        "interactions": list(read_interactions(ndjson_report)),
    }


def read_interactions(ndjson: Path):
    """Every (operation, phase, mode, request, response) schemathesis recorded."""
    if not ndjson.exists():
        return
    with ndjson.open() as f:
        for line in f:
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished["recorder"]
            for case_id, interaction in recorder.get("interactions", {}).items():
                case = recorder["cases"].get(case_id, {}).get("value", {})
                generation = case.get("meta", {}).get("generation", {}) or {}
                response = interaction.get("response")
                if response is None:
                    continue
                yield {
                    "operation": short_operation(case.get("method", "?") + " " + case.get("path", "?")),
                    "phase": finished.get("phase"),
                    "mode": generation.get("mode", "?"),
                    "method": interaction["request"]["method"],
                    "uri": interaction["request"]["uri"],
                    "request_body": decode(interaction["request"].get("body")),
                    "status": response["status_code"],
                    "headers": {k.lower(): v[0] for k, v in response.get("headers", {}).items()},
                    "body": decode(response.get("content")),
                }


def decode(content) -> str:
    if content is None:
        return ""
    if isinstance(content, dict) and "$base64" in content:
        return base64.b64decode(content["$base64"]).decode("utf-8", "replace")
    if isinstance(content, dict) and "string" in content:
        return content["string"]
    return str(content)


# -- our own checks over every recorded response --------------------------------------------


def error_body_problem(status: int, headers: dict, body: str) -> str | None:
    """None if `body` is Twilio's JSON error body for `status`, else what is wrong."""
    if not headers.get("content-type", "").startswith("application/json"):
        return f"content-type {headers.get('content-type')!r} on an error"
    try:
        data = json.loads(body)
    except ValueError:
        return "error body is not JSON"
    if not isinstance(data, dict):
        return "error body is not an object"
    if not isinstance(data.get("code"), int) or not isinstance(data.get("message"), str):
        return "error body lacks an integer code and a message"
    if data.get("status") != status:
        return f"error body status {data.get('status')} != HTTP {status}"
    if not str(data.get("more_info", "")).startswith("https://www.twilio.com/docs/errors/"):
        return "error body lacks more_info"
    return None


def positive_rejection_reason(operation: str, code: int, message: str) -> str | None:
    for op, allowed_code, pattern, reason in ALLOWED_POSITIVE_REJECTIONS:
        if op in ("*", operation) and code == allowed_code and re.search(pattern, message):
            return reason
    return None


def audit(run: dict, expect_status: int | None = None) -> list[str]:
    problems = []
    for i in run["interactions"]:
        where = f"{i['method']} {i['uri']} -> {i['status']} ({run['name']}, {i['phase']}, {i['mode']})"
        if not urlsplit(i["uri"]).path.startswith("/2010-04-01/"):
            continue
        if i["status"] >= 500:
            problems.append(f"5xx: {where}: {i['body'][:300]}")
            continue
        if i["method"] == "OPTIONS" and i["status"] == 200:
            continue  # a CORS preflight: browsers never send credentials with it
        if expect_status is not None and i["status"] != expect_status:
            problems.append(f"expected {expect_status}: {where}: {i['body'][:300]}")
            continue
        if i["status"] >= 400 and urlsplit(i["uri"]).path.endswith(".json"):
            problem = error_body_problem(i["status"], i["headers"], i["body"])
            if problem:
                problems.append(f"{problem}: {where}: {i['body'][:300]}")
                continue
            if expect_status == 401:
                if json.loads(i["body"])["code"] != 20003 or "www-authenticate" not in i["headers"]:
                    problems.append(f"401 without code 20003 / WWW-Authenticate: {where}")
            elif i["mode"] == "positive" and 400 <= i["status"] < 500:
                err = json.loads(i["body"])
                if not positive_rejection_reason(i["operation"], err["code"], err["message"]):
                    problems.append(
                        f"unexpected {i['status']} {err['code']} on schema-valid input: {where}\n"
                        f"    request body: {i['request_body'][:300]}\n    answer: {err['message']}"
                    )
    return problems


def histogram(run: dict) -> str:
    rows = collections.defaultdict(collections.Counter)
    for i in run["interactions"]:
        rows[i["operation"]][f"{i['status']}"] += 1
    lines = []
    for op in sorted(rows):
        counts = ", ".join(f"{s}: {n}" for s, n in sorted(rows[op].items()))
        lines.append(f"    {op:32} {sum(rows[op].values()):5} requests  ({counts})")
    return "\n".join(lines)


def rejection_summary(run: dict) -> str:
    """The Twilio error codes answered to positive (schema-valid) input, by operation."""
    rows = collections.defaultdict(collections.Counter)
    for i in run["interactions"]:
        if i["mode"] == "positive" and 400 <= i["status"] < 500 and i["body"].startswith("{"):
            rows[i["operation"]][json.loads(i["body"]).get("code")] += 1
    return "\n".join(
        f"    {op:32} " + ", ".join(f"{code} x{n}" for code, n in sorted(c.items()))
        for op, c in sorted(rows.items())
    ) or "    (none)"


# -- raw garbage bodies ---------------------------------------------------------------------


def garbage_run(emu: Emulator, data: dict, examples: int) -> dict:
    """Random bytes with random content types to every operation, from hypothesis: never a 5xx,
    always 2xx or a Twilio JSON error."""
    base = f"{emu.url}/2010-04-01/Accounts/{DEV_ACCOUNT_SID}"
    # fresh caller IDs: the schemathesis runs before may have deleted the seeded ones
    live = [emu.seed_caller_id(DEV_ACCOUNT_SID, f"+1415555040{i}")["sid"] for i in range(3)]
    targets = [
        ("POST", "OutgoingCallerIds", f"{base}/OutgoingCallerIds.json"),
        ("GET", "OutgoingCallerIds", f"{base}/OutgoingCallerIds.json"),
        ("POST", "OutgoingCallerIds/{Sid}", f"{base}/OutgoingCallerIds/{live[0]}.json"),
        ("PUT", "OutgoingCallerIds/{Sid}", f"{base}/OutgoingCallerIds/{live[1]}.json"),
        ("GET", "OutgoingCallerIds/{Sid}", f"{base}/OutgoingCallerIds/{live[2]}.json"),
        ("DELETE", "OutgoingCallerIds/{Sid}", f"{base}/OutgoingCallerIds/PN{'0' * 32}.json"),
        ("GET", "Calls/{Sid}", f"{base}/Calls/{data['calls'][0]}.json"),
        ("POST", "Accounts", f"{emu.url}/2010-04-01/Accounts.json"),
        ("GET", "Accounts", f"{emu.url}/2010-04-01/Accounts.json"),
        ("POST", "Accounts/{Sid}", f"{emu.url}/2010-04-01/Accounts/{data['accounts'][1]}.json"),
        ("POST", "Keys", f"{base}/Keys.json"),
        ("POST", "Keys/{Sid}", f"{base}/Keys/{data['keys'][0]}.json"),
        ("DELETE", "Keys/{Sid}", f"{base}/Keys/SK{'0' * 32}.json"),
    ]
    content_types = st.sampled_from([
        None,
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "application/json",
        "application/octet-stream",
        "multipart/form-data; boundary=xyz",
        "text/plain",
        "application/x-www-form-urlencoded; charset=ISO-8859-1",
        "image/png",
    ])
    form_like = st.lists(
        st.tuples(
            st.sampled_from(["PhoneNumber", "FriendlyName", "CallDelay", "Extension", "StatusCallback",
                             "StatusCallbackMethod", "PageSize", "Page", "PageToken", "Status", "x"]),
            st.text(max_size=80),
        ),
        max_size=6,
    ).map(lambda kv: "&".join(f"{k}={v}" for k, v in kv).encode("utf-8", "surrogatepass"))
    bodies = st.one_of(st.binary(max_size=2048), form_like, st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")))
    session = requests.Session()
    interactions = []

    for method, label, url in targets:
        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), derandomize=False)
        @given(body=bodies, content_type=content_types)
        def send(body, content_type):
            headers = {} if content_type is None else {"Content-Type": content_type}
            # a callback URL that slipped through would still only reach loopback
            r = session.request(method, url, data=body, headers=headers,
                                auth=(DEV_ACCOUNT_SID, DEV_AUTH_TOKEN), timeout=10)
            interactions.append({
                "operation": f"{method} {label}",
                "phase": "raw", "mode": "garbage", "method": method, "uri": url,
                "request_body": repr(body[:100]), "status": r.status_code,
                "headers": {k.lower(): v for k, v in r.headers.items()}, "body": r.text,
            })

        send()
    return {"name": "garbage-raw", "returncode": 0, "elapsed": 0.0, "report": {}, "interactions": interactions}


# -- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("CONFORMANCE_MAX_EXAMPLES", "100")))
    parser.add_argument("--seed", default=os.environ.get("CONFORMANCE_SEED"))
    args = parser.parse_args()
    scrub_sdk_environment()

    REPORT_DIR.mkdir(exist_ok=True)
    config = REPORT_DIR / "schemathesis.toml"
    operations = []
    for spec_name, source in SPECS:
        ops = operations_in_spec(source)
        operations += ops
        log(f"spec {spec_name}: {source.name}: {len(ops)} operations")
        for op in ops:
            log(f"    {op}")

    failures: list[str] = []
    runs = []
    with Emulator() as emu, CallbackReceiver() as receiver:
        log(f"emulator: {emu.url} (time scale 0, database {emu.db_path})")
        data = seed(emu, receiver)
        log(f"seeded on {DEV_ACCOUNT_SID}: {len(data['caller_ids'])} caller IDs, {len(data['calls'])} calls, "
            f"{len(data['accounts']) - 1} subaccounts, {len(data['keys'])} keys")
        write_config(config, data, f"{receiver.url}/status")
        n = args.max_examples
        good = f"{DEV_ACCOUNT_SID}:{DEV_AUTH_TOKEN}"
        wrong = f"{DEV_ACCOUNT_SID}:{'0' * 32}"

        for spec_name, source in SPECS:
            spec = REPORT_DIR / f"spec.{spec_name}.patched.json"
            patches = patched_spec(source, spec, f"{receiver.url}/status")
            log(f"spec patches of {source.name} (see README):")
            for p in patches:
                log(f"    {p}")
            plan = [
                ("valid", good, ["--max-examples", str(n)], None),
                ("wrong-credentials", wrong,
                 ["--max-examples", str(max(5, n // 4)), "--phases", "examples,coverage,fuzzing"], 401),
                ("garbage-negative", good,
                 ["--max-examples", str(n), "--mode", "negative", "--phases", "coverage,fuzzing"], None),
            ]
            for kind, auth, extra, expect_status in plan:
                name = kind if spec_name == "caller-ids" else f"{kind}-{spec_name}"
                run = run_schemathesis(name, emu, spec, config, auth, extra, args.seed)
                runs.append(run)
                if run["returncode"] != 0:
                    failures.append(f"schemathesis run `{name}` exited {run['returncode']} (see report/{name}/output.txt)")
                if not run["report"]:
                    failures.append(f"schemathesis run `{name}` wrote no report")
                failures += [f"[{name}] {p}" for p in audit(run, expect_status)]

        log("\n=== raw garbage bodies (hypothesis: random bytes and content types)")
        raw = garbage_run(emu, data, examples=max(20, n))
        runs.append(raw)
        failures += [f"[garbage-raw] {p}" for p in audit(raw)]

        # Every StatusCallback the runs caused went to the loopback receiver.
        stray = [
            c["url"] for c in emu.callbacks(DEV_ACCOUNT_SID)
            if urlsplit(c["url"]).hostname not in ("127.0.0.1", "localhost", "::1")
        ]
        if stray:
            failures.append(f"StatusCallbacks to non-loopback URLs were attempted: {stray[:5]}")
        if emu.proc is None or emu.proc.poll() is not None:
            failures.append("the emulator died during the runs")
        callbacks_received = len(receiver.received())
        emulator_log = emu.log()

    # -- figures ---------------------------------------------------------------------------
    log("\n=== conformance figures")
    total_cases = 0
    total_requests = 0
    for run in runs:
        report = run["report"]
        cases = report.get("test_cases", {}).get("generated", len(run["interactions"]))
        ops = report.get("operations", {})
        total_cases += cases
        total_requests += len(run["interactions"])
        tested = f"{ops.get('tested', '-')}/{ops.get('total', len(operations))} operations" if ops else f"{len(operations) + 1} targets"
        log(f"  {run['name']:18} {tested}, {cases} test cases, {len(run['interactions'])} requests checked"
            + (f", {run['elapsed']:.1f} s" if run["elapsed"] else ""))
        log(histogram(run))
        if run["name"].startswith("valid"):
            log("    Twilio error codes answered to schema-valid input (all allowed, see README):")
            log(rejection_summary(run))
    log(f"  TOTAL: {len(operations)} documented operations, {total_cases} test cases, "
        f"{total_requests} requests checked, {callbacks_received} StatusCallbacks received")

    if failures:
        log(f"\n=== CONFORMANCE FAILED: {len(failures)} problem(s)")
        for f in failures[:60]:
            log(f"  - {f}")
        if any("5xx" in f for f in failures):
            log("\nemulator log (tail):\n" + emulator_log[-4000:])
        return 1
    log("\n=== conformance passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
