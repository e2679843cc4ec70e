#!/usr/bin/env python3
"""Helpers for scripts/bench (standard library only).

  harness.py start --url URL --log FILE --pidfile FILE [--timeout S] -- CMD...
      Starts CMD, polls URL every millisecond until it answers 200 and prints the
      milliseconds from spawn to that first 200. The server keeps running; its pid goes to
      --pidfile.
  harness.py wait-pending --db FILE [--timeout S]
      Waits until the emulator has no pending verification call in its SQLite file; prints
      how long that took.
  harness.py table --results FILE --facts FILE --out FILE
      Renders the results (one JSON object a line) and facts (key=value lines) as the
      Markdown table BENCHMARKS.md quotes.
"""

import argparse
import http.client
import json
import sqlite3
import subprocess
import sys
import time
import urllib.parse


def cmd_start(args):
    url = urllib.parse.urlsplit(args.url)
    log = open(args.log, "ab")
    t0 = time.perf_counter()
    proc = subprocess.Popen(args.command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = t0 + args.timeout
    while True:
        if proc.poll() is not None:
            print(f"server exited with {proc.returncode} before answering; see {args.log}", file=sys.stderr)
            return 1
        try:
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=1)
            conn.request("GET", url.path)
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                break
        except OSError:
            pass
        if time.perf_counter() > deadline:
            print(f"no 200 from {args.url} within {args.timeout}s", file=sys.stderr)
            proc.kill()
            return 1
        time.sleep(0.001)
    elapsed_ms = (time.perf_counter() - t0) * 1000
    with open(args.pidfile, "w") as f:
        f.write(str(proc.pid))
    print(f"{elapsed_ms:.1f}")
    return 0


def cmd_wait_pending(args):
    t0 = time.monotonic()
    while True:
        conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True, timeout=10)
        try:
            pending = conn.execute("SELECT COUNT(*) FROM calls WHERE next_action_at IS NOT NULL").fetchone()[0]
        finally:
            conn.close()
        if pending == 0:
            print(f"{time.monotonic() - t0:.1f}")
            return 0
        if time.monotonic() - t0 > args.timeout:
            print(f"{pending} calls still pending after {args.timeout}s", file=sys.stderr)
            return 1
        time.sleep(0.2)


def fmt_ratio(value, ref):
    if not ref:
        return "-"
    return f"{value / ref:.2f}"


def cmd_table(args):
    results = [json.loads(line) for line in open(args.results) if line.strip()]
    facts = {}
    for line in open(args.facts):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            facts[k] = v
    by_name = {r["name"]: r for r in results}
    ref_rps = {r["name"]: r["rps"] for r in results}
    if "reference-read" in ref_rps and "reference-read-end" in ref_rps:
        # The mean of the runs before and after the emulator's evens out drift in the load.
        ref_rps["reference-read"] = (ref_rps["reference-read"] + ref_rps["reference-read-end"]) / 2
    like_for_like = {"list": "reference-list", "list-filter": "reference-list", "deep": "reference-list"}
    out = []
    out.append(
        "| workload | requests/s | p50 ms | p99 ms | server CPU µs/request | ratio to reference "
        "| non-2xx | target | met |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|---|---|")
    for r in results:
        ref = ref_rps.get(r.get("ref") or "")
        if ref:
            ratio = fmt_ratio(r["rps"], ref)
            other = like_for_like.get(r["name"])
            if other in ref_rps:
                ratio += f" ({fmt_ratio(r['rps'], ref_rps[other])} of the 50-row reference)"
        else:
            ratio = "-"
        target = r.get("target", "")
        met = ""
        if target:
            ok = r["p99_ms"] < 20 and r["non2xx"] + r["socket_errors"] == 0
            floor = r.get("floor")
            if floor is not None and ref:
                ok = ok and r["rps"] / ref >= floor
            met = "yes" if ok else "**no**"
        cpu = r.get("cpu_s")
        cpu_us = f"{cpu * 1e6 / r['requests']:.0f}" if cpu is not None and r["requests"] else "-"
        out.append(
            f"| {r['label']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {cpu_us} | {ratio} | "
            f"{r['non2xx'] + r['socket_errors']} | {target} | {met} |"
        )
    out.append("")
    out.append("| measure | value | target | met |")
    out.append("|---|---:|---|---|")

    def fact(label, key, unit, target="", check=None):
        if key not in facts:
            return
        v = facts[key]
        met = ""
        if check is not None:
            met = "yes" if check(float(v)) else "**no**"
        out.append(f"| {label} | {v} {unit} | {target} | {met} |")

    fact("start-up to first 200 on /_emulator/health, empty database (median of runs)", "startup_empty_ms", "ms", "< 200 ms", lambda v: v < 200)
    fact("start-up to first 200, 10,000 caller IDs (median of runs)", "startup_ms", "ms", "< 200 ms", lambda v: v < 200)
    fact("start-up to first 200, 10,000 caller IDs (slowest run)", "startup_max_ms", "ms")
    fact("idle RSS after start-up (VmRSS)", "idle_rss_mb", "MB", "< 30 MB", lambda v: v < 30)
    fact("idle RSS after the load (VmRSS)", "idle_rss_after_mb", "MB")
    fact("peak RSS during the load (VmHWM)", "peak_rss_mb", "MB")
    fact("reference server peak RSS (VmHWM)", "ref_peak_rss_mb", "MB")
    fact("WAL file after the update benchmark", "wal_after_update_mb", "MB")
    fact("WAL file after the create benchmark and its calls", "wal_after_create_mb", "MB")
    fact("database file after the write benchmarks", "db_mb", "MB")
    fact("verification calls created by the create benchmark, drained in", "drain_s", "s")
    fact("fetch with 20 event-stream clients / without: each pair", "events_fetch_ratios", "")
    fact("fetch with 20 event-stream clients / without: median of the pairs", "events_fetch_ratio_median", "", ">= 0.95", lambda v: v >= 0.95)
    fact("create with 20 event-stream clients / without: each pair", "events_create_ratios", "")
    fact("create with 20 event-stream clients / without: median of the pairs", "events_create_ratio_median", "", ">= 0.95", lambda v: v >= 0.95)
    fact("event delivery latency, step taken to event read (p50)", "event_latency_p50_ms", "ms")
    fact("event delivery latency, step taken to event read (p99)", "event_latency_p99_ms", "ms")
    for n in range(1, 6):
        fact(f"flow round {n}: StatusCallbacks delivered (receiver answering 200)", f"flow_callbacks_delivered_{n}", "")
        fact(f"flow round {n}: callbacks delivered per second, until the queue drained", f"flow_callbacks_per_s_{n}", "/s")
        fact(f"flow round {n}: time the queue took to drain after the load stopped", f"flow_drain_after_load_s_{n}", "s")
    for kind, label, floor in (("flow", "receiver answering 200", 0.7), ("flow_refused", "receiver refusing connections", 0.9), ("flow_slow", "receiver answering after 2 s", 0.9)):
        fact(f"flow with a callback, {label} / without: each round", f"{kind}_ratios", "")
        fact(f"flow with a callback, {label} / without: median of the rounds", f"{kind}_ratio_median", "", f">= {floor}", lambda v, f=floor: v >= f)
        fact(f"flow with a callback, {label}: highest p99 of the rounds", f"{kind}_p99_max_ms", "ms", "< 20 ms", lambda v: v < 20)
    fact("flow without a callback: highest p99 of the rounds", "flow_none_p99_max_ms", "ms")
    out.append("")
    out.append("| flatness | 1,000 caller IDs req/s | 100,000 caller IDs req/s | ratio | target | met |")
    out.append("|---|---:|---:|---:|---|---|")
    for w, label in (("fetch", "fetch JSON"), ("list", "list page 0"), ("deep", "list deep page")):
        a = by_name.get(f"flat-1k-{w}")
        b = by_name.get(f"flat-100k-{w}")
        if a and b:
            ratio = b["rps"] / a["rps"]
            out.append(
                f"| {label} | {a['rps']:.0f} | {b['rps']:.0f} | {ratio:.2f} | >= 0.80 | {'yes' if ratio >= 0.8 else '**no**'} |"
            )
    page0 = by_name.get("list")
    deep = by_name.get("deep")
    if page0 and deep:
        ratio = deep["rps"] / page0["rps"]
        out.append("")
        out.append(
            f"Deep page (Page=198 via PageToken) vs page 0 at 10,000 caller IDs: {deep['rps']:.0f} vs "
            f"{page0['rps']:.0f} requests/s, ratio {ratio:.2f} (target: as fast, >= 0.90: "
            f"{'met' if ratio >= 0.9 else '**missed**'})."
        )
    text = "\n".join(out) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="sub", required=True)
    s = sub.add_parser("start")
    s.add_argument("--url", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--pidfile", required=True)
    s.add_argument("--timeout", type=float, default=30)
    s.add_argument("command", nargs=argparse.REMAINDER)
    w = sub.add_parser("wait-pending")
    w.add_argument("--db", required=True)
    w.add_argument("--timeout", type=float, default=300)
    t = sub.add_parser("table")
    t.add_argument("--results", required=True)
    t.add_argument("--facts", required=True)
    t.add_argument("--out", required=True)
    args = p.parse_args()
    if args.sub == "start":
        if args.command and args.command[0] == "--":
            args.command = args.command[1:]
        return cmd_start(args)
    if args.sub == "wait-pending":
        return cmd_wait_pending(args)
    return cmd_table(args)


if __name__ == "__main__":
    sys.exit(main())
