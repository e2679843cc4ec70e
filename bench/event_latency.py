#!/usr/bin/env python3
"""Event delivery latency of GET /_emulator/events: from the moment a verification call's step
is taken (the event's `at`, just before its commit) to the moment this client reads the event.
Sends `--count` validation requests at `--rate` per second while it listens, then prints
`event_latency_p50_ms=…` and `event_latency_p99_ms=…`. Standard library only."""

import argparse
import base64
import datetime
import http.client
import json
import threading
import time
import urllib.parse


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--account", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--count", type=int, default=300)
    p.add_argument("--rate", type=float, default=100)
    args = p.parse_args()
    latencies = []
    ready = threading.Event()

    def listen():
        conn = http.client.HTTPConnection(args.host, args.port, timeout=60)
        conn.request("GET", f"/_emulator/events?account_sid={args.account}")
        response = conn.getresponse()
        event = None
        for raw in response:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
                if event == "ready":
                    ready.set()
            elif line.startswith("data: ") and event == "call.step":
                at = datetime.datetime.fromisoformat(json.loads(line[6:])["at"].replace("Z", "+00:00"))
                latencies.append((time.time() - at.timestamp()) * 1000)

    threading.Thread(target=listen, daemon=True).start()
    ready.wait(10)
    auth = "Basic " + base64.b64encode(f"{args.account}:{args.token}".encode()).decode()
    conn = http.client.HTTPConnection(args.host, args.port, timeout=10)
    for i in range(args.count):
        body = urllib.parse.urlencode({"PhoneNumber": f"+1808{9000000 + i:07d}"})
        conn.request(
            "POST",
            f"/2010-04-01/Accounts/{args.account}/OutgoingCallerIds.json",
            body,
            {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"},
        )
        conn.getresponse().read()
        time.sleep(1 / args.rate)
    time.sleep(1)
    latencies.sort()
    if not latencies:
        raise SystemExit("no call.step event arrived")
    at = lambda q: latencies[min(len(latencies) - 1, round((len(latencies) - 1) * q))]
    print(f"event_latency_p50_ms={at(0.5):.2f}")
    print(f"event_latency_p99_ms={at(0.99):.2f}")
    print(f"event_latency_events={len(latencies)}")


if __name__ == "__main__":
    main()
