"""Any Twilio client, unchanged (issue 11): the twilio CLI, twilio-python and twilio-node with
no base URL, and curl, reach the emulator through its forward proxy or its TLS listener,
trusting its CA, with nothing but their environment changed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SDK = HERE.parent
TWILIO_CLI = SDK / "cli" / "node_modules" / ".bin" / "twilio"
PYTHON = SDK / "python" / ".venv" / "bin" / "python"


def run(args, env, cwd=None, timeout=120) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def test_curl_through_the_proxy_and_through_the_tls_listener_with_the_host_resolved(edge, tmp_path):
    sid, token = edge.emulator.create_account("curl")
    url = f"https://api.twilio.com/2010-04-01/Accounts/{sid}/OutgoingCallerIds.json"
    env = edge.client_env()
    proxied = run(
        ["curl", "-sS", "--fail", "--proxy", edge.proxy, "--cacert", edge.ca, "-u", f"{sid}:{token}", url],
        env,
    )
    assert json.loads(proxied.stdout)["outgoing_caller_ids"] == []
    resolved_url = url.replace("api.twilio.com", f"api.twilio.com:{edge.tls_port}")
    resolved = run(
        [
            "curl", "-sS", "--fail", "--cacert", edge.ca, "-u", f"{sid}:{token}",
            "--resolve", f"api.twilio.com:{edge.tls_port}:127.0.0.1", resolved_url,
        ],
        env,
    )
    assert json.loads(resolved.stdout)["page_size"] == 50
    journal = edge.emulator.requests_journal(sid)
    assert {entry["via"] for entry in journal} == {"proxy", "https"}
    # Another host is refused at the CONNECT, and curl says so.
    refused = subprocess.run(
        ["curl", "-sS", "--proxy", edge.proxy, "--cacert", edge.ca, "https://example.com/"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode != 0
    assert "403" in refused.stderr, refused.stderr
    # A client that does not trust the CA fails its handshake.
    untrusted = subprocess.run(
        ["curl", "-sS", "--proxy", edge.proxy, "-u", f"{sid}:{token}", url],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert untrusted.returncode == 60, untrusted.stderr  # curl: peer certificate not trusted


@pytest.mark.parametrize("how", ["proxy", "resolved"])
def test_twilio_python_with_no_base_url(edge, how):
    if how == "resolved" and edge.tls_port != 443:
        pytest.skip("the TLS listener could not have port 443 here")
    sid, token = edge.emulator.create_account(f"python {how}")
    if how == "proxy":
        env = edge.client_env(HTTPS_PROXY=edge.proxy, REQUESTS_CA_BUNDLE=str(edge.ca))
    else:
        env = edge.client_env(EDGE_RESOLVE_TO="127.0.0.1", REQUESTS_CA_BUNDLE=str(edge.ca))
    done = run([PYTHON, HERE / "python_flow.py", sid, token, "+14155550181"], env)
    seen = json.loads(done.stdout)
    assert len(seen["validation_code"]) == 6
    assert seen["caller_id_sid"].startswith("PN")
    assert seen["renamed"] == "renamed by python"
    assert seen["call_status"] == "completed"
    assert seen["deleted"] is True
    via = {e["via"] for e in edge.emulator.requests_journal(sid)}
    assert via == {"proxy" if how == "proxy" else "https"}


@pytest.mark.parametrize("how", ["proxy", "resolved"])
def test_twilio_node_with_no_base_url(edge, how):
    if how == "resolved" and edge.tls_port != 443:
        pytest.skip("the TLS listener could not have port 443 here")
    sid, token = edge.emulator.create_account(f"node {how}")
    if how == "proxy":
        env = edge.client_env(HTTP_PROXY=edge.proxy, NODE_EXTRA_CA_CERTS=str(edge.ca))
    else:
        env = edge.client_env(EDGE_RESOLVE_TO="127.0.0.1", NODE_EXTRA_CA_CERTS=str(edge.ca))
    done = run(["node", "edge-flow.mjs", sid, token, "+14155550182"], env, cwd=SDK / "node")
    seen = json.loads(done.stdout)
    assert len(seen["validation_code"]) == 6
    assert seen["renamed"] == "renamed by node"
    assert seen["call_status"] == "completed"
    assert seen["deleted"] is True
    via = {e["via"] for e in edge.emulator.requests_journal(sid)}
    assert via == {"proxy" if how == "proxy" else "https"}


def cli(edge, home: Path, credentials: dict[str, str], *args: str) -> list[dict]:
    env = edge.client_env(
        HOME=str(home),
        HTTP_PROXY=edge.proxy,
        NODE_EXTRA_CA_CERTS=str(edge.ca),
        TWILIO_SKIP_ANALYTICS="true",
        **credentials,
    )
    done = run([TWILIO_CLI, *args, "-o", "json"], env, timeout=180)
    return json.loads(done.stdout or "[]")


@pytest.mark.parametrize("auth", ["auth token", "API key"])
def test_the_twilio_cli_runs_every_operation_through_the_proxy(edge, tmp_path, auth):
    sid, token = edge.emulator.create_account(f"cli {auth}")
    if auth == "auth token":
        credentials = {"TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": token}
    else:
        key = edge.emulator._control("POST", f"/accounts/{sid}/keys", json={}).json()
        credentials = {
            "TWILIO_ACCOUNT_SID": sid,
            "TWILIO_API_KEY": key["sid"],
            "TWILIO_API_SECRET": key["secret"],
        }
    phone = "+14155550183"
    created = cli(
        edge, tmp_path, credentials,
        "api:core:outgoing-caller-ids:create", "--phone-number", phone, "--friendly-name", "From the CLI",
    )
    assert created[0]["phoneNumber"] == phone
    assert len(created[0]["validationCode"]) == 6
    call_sid = created[0]["callSid"]
    listed = cli(edge, tmp_path, credentials, "api:core:outgoing-caller-ids:list")
    assert [c["phoneNumber"] for c in listed] == [phone]
    caller_id = listed[0]["sid"]
    fetched = cli(edge, tmp_path, credentials, "api:core:outgoing-caller-ids:fetch", "--sid", caller_id)
    assert fetched[0]["friendlyName"] == "From the CLI"
    updated = cli(
        edge, tmp_path, credentials,
        "api:core:outgoing-caller-ids:update", "--sid", caller_id, "--friendly-name", "Renamed by the CLI",
    )
    assert updated[0]["friendlyName"] == "Renamed by the CLI"
    call = cli(edge, tmp_path, credentials, "api:core:calls:fetch", "--sid", call_sid)
    assert call[0]["status"] == "completed"
    assert call[0]["to"] == phone
    cli(edge, tmp_path, credentials, "api:core:outgoing-caller-ids:remove", "--sid", caller_id)
    assert cli(edge, tmp_path, credentials, "api:core:outgoing-caller-ids:list") == []
    journal = edge.emulator.requests_journal(sid)
    assert {e["via"] for e in journal} == {"proxy"}
    assert {e["host"] for e in journal} == {"api.twilio.com"}
