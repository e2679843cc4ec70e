// Start the real release binary of callerid-emulator and talk to its control API; a
// StatusCallback receiver on a free loopback port. Node 20 standard library only.

import { spawn } from "node:child_process";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, existsSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, "..", "..", "..");
export const DEFAULT_BINARY = path.join(REPO_ROOT, "target", "release", "callerid-emulator");
export const DEV_ACCOUNT_SID = "AC" + "a".repeat(32);
export const DEV_AUTH_TOKEN = "a".repeat(32);

// Variables that would change where the SDK sends requests, or which credentials it picks up
// by itself. tests/sdk/run unsets them too; this covers a bare `node --test`.
export const SDK_ENV_VARS = [
  "TWILIO_EDGE",
  "TWILIO_REGION",
  "TWILIO_ACCOUNT_SID",
  "TWILIO_AUTH_TOKEN",
  "TWILIO_API_KEY",
  "TWILIO_API_SECRET",
];
export function scrubSdkEnvironment() {
  for (const name of SDK_ENV_VARS) delete process.env[name];
}
scrubSdkEnvironment();

/** A port the kernel just handed out for 127.0.0.1 (bound to 0, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` until it returns something truthy; fails after a generous deadline. */
export async function waitFor(predicate, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** The environment the emulator runs in: none of the caller's CALLERID_* settings, and every
 * proxy-aware client sent to a dead loopback proxy for anything that is not loopback, so a
 * StatusCallback can never leave the machine. */
async function emulatorEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("CALLERID_") || /^(http|https|all|no)_proxy$/i.test(k)) continue;
    env[k] = v;
  }
  const dead = `http://127.0.0.1:${await freePort()}`;
  return { ...env, HTTP_PROXY: dead, HTTPS_PROXY: dead, ALL_PROXY: dead, NO_PROXY: "127.0.0.1,localhost,::1" };
}

export class Emulator {
  constructor({ binary, extraArgs = [] } = {}) {
    this.binary = binary ?? process.env.CALLERID_EMULATOR_BIN ?? DEFAULT_BINARY;
    this.extraArgs = extraArgs;
    this.dir = mkdtempSync(path.join(os.tmpdir(), "callerid-sdk-node-"));
    this.dbPath = path.join(this.dir, "emulator.db");
    this.logPath = path.join(this.dir, "emulator.log");
    this.proc = null;
    this.url = "";
  }

  async start() {
    if (!existsSync(this.binary)) {
      throw new Error(`${this.binary} is missing: run \`cargo build --release\` first`);
    }
    let lastError;
    for (let attempt = 0; attempt < 3; attempt++) {
      // the free port may be taken between release and bind: retry
      const port = await freePort();
      this.url = `http://127.0.0.1:${port}`;
      const log = openSync(this.logPath, "a");
      this.proc = spawn(
        this.binary,
        [
          "--listen", `127.0.0.1:${port}`,
          "--database-url", `sqlite://${this.dbPath}`,
          "--time-scale", "0",
          ...this.extraArgs,
        ],
        { stdio: ["ignore", log, log], env: await emulatorEnv() },
      );
      closeSync(log);
      this.exited = new Promise((resolve) => this.proc.once("exit", resolve));
      try {
        await this.#waitHealthy();
        return this;
      } catch (err) {
        lastError = err;
        await this.stop();
      }
    }
    throw new Error(`emulator did not start: ${lastError}\n${this.log()}`);
  }

  async #waitHealthy() {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`emulator exited with ${this.proc.exitCode}`);
      try {
        const res = await fetch(`${this.url}/_emulator/health`);
        if (res.status === 200 && (await res.json()).status === "ok") return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error("GET /_emulator/health did not answer ok within 30 s");
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGTERM");
      const timer = setTimeout(() => this.proc?.kill("SIGKILL"), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    this.proc = null;
  }

  async close() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  log() {
    try {
      return readFileSync(this.logPath, "utf8").slice(-8000);
    } catch {
      return "";
    }
  }

  // -- control API -------------------------------------------------------------------------
  async control(method, pathAndQuery, body) {
    const res = await fetch(`${this.url}/_emulator${pathAndQuery}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} /_emulator${pathAndQuery} -> ${res.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  }

  /** A fresh account: { sid, authToken }. */
  async createAccount(friendlyName = "sdk suite") {
    const body = await this.control("POST", "/accounts", { friendly_name: friendlyName });
    return { sid: body.sid, authToken: body.auth_token };
  }

  async seedCallerId(accountSid, phoneNumber, friendlyName) {
    const body = { phone_number: phoneNumber };
    if (friendlyName !== undefined) body.friendly_name = friendlyName;
    return this.control("POST", `/accounts/${accountSid}/outgoing-caller-ids`, body);
  }

  async setBehavior(accountSid, phoneNumber, behavior) {
    return this.control("PUT", `/accounts/${accountSid}/phones/${encodeURIComponent(phoneNumber)}`, { behavior });
  }

  async call(callSid) {
    return this.control("GET", `/calls/${callSid}`);
  }

  /** Twilio API requests of one account, oldest first. */
  async requestsJournal(accountSid) {
    const body = await this.control("GET", `/requests?account_sid=${accountSid}&limit=1000`);
    return body.requests.reverse();
  }
}

/** A StatusCallback receiver on a free loopback port: records every request it gets. */
export class CallbackReceiver {
  constructor() {
    this.requests = [];
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        this.requests.push({
          method: req.method,
          path: req.url, // path and query string, exactly as sent
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("ok");
      });
    });
  }

  start() {
    return new Promise((resolve) => {
      this.server.listen(0, "127.0.0.1", () => {
        this.url = `http://127.0.0.1:${this.server.address().port}`;
        resolve(this);
      });
    });
  }

  stop() {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(resolve));
  }
}
