// twilio-node against the emulator's fault rules (Issue 13): the SDK's own retry of 429s
// (`autoRetry: true`), the RestException without it, an injected delay in the SDK's measured
// time, and a dropped connection as the SDK's connection error.

import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { after, before, describe, test } from "node:test";

import twilio from "twilio";

import { Emulator } from "./emulator.mjs";

let emulator;

before(async () => {
  emulator = await new Emulator().start();
});

after(async () => {
  await emulator?.close();
});

/** A fresh account with one verified caller ID, and a client for it with `opts`. */
async function fresh(opts = {}) {
  const account = await emulator.createAccount();
  const callerId = await emulator.seedCallerId(account.sid, "+14155550100", "Front desk");
  const client = twilio(account.sid, account.authToken, opts);
  client.api.baseUrl = emulator.url;
  return { ...account, client, callerId };
}

const addFault = (rule) => emulator.control("POST", "/faults", rule);

async function hitsOf(id) {
  const { faults } = await emulator.control("GET", "/faults");
  return faults.find((f) => f.id === id).hits;
}

async function listRequests(accountSid) {
  return (await emulator.requestsJournal(accountSid)).filter(
    (r) => r.method === "GET" && r.path.endsWith("/OutgoingCallerIds.json"),
  );
}

const tooMany = (accountSid, times) =>
  addFault({
    account_sid: accountSid,
    method: "GET",
    resource: "OutgoingCallerIds",
    times,
    action: { status: 429, code: 20429, retry_after: 1 },
  });

describe("429 and the SDK's retry", () => {
  test("with autoRetry, two injected 429s are retried by the SDK and the page arrives", async () => {
    const { sid, client, callerId } = await fresh({ autoRetry: true, maxRetries: 3 });
    const rule = await tooMany(sid, 2);
    const listed = await client.outgoingCallerIds.list();
    assert.deepEqual(
      listed.map((c) => c.sid),
      [callerId.sid],
    );
    assert.equal(await hitsOf(rule.id), 2);
    const requests = await listRequests(sid);
    assert.deepEqual(
      requests.map((r) => r.status),
      [429, 429, 200],
    );
    assert.deepEqual(
      requests.map((r) => r.fault?.id ?? null),
      [rule.id, rule.id, null],
    );
  });

  test("without autoRetry, the 429 is a RestException with code 20429", async () => {
    const { sid, client } = await fresh();
    await tooMany(sid, 1);
    await assert.rejects(client.outgoingCallerIds.list(), (err) => {
      assert.ok(err instanceof twilio.RestException, `expected RestException, got ${err}`);
      assert.equal(err.status, 429);
      assert.equal(err.code, 20429);
      assert.equal(err.message, "Too Many Requests");
      assert.match(err.moreInfo, /\/errors\/20429$/);
      return true;
    });
    assert.deepEqual(
      (await listRequests(sid)).map((r) => r.status),
      [429],
    );
  });
});

describe("delays and dropped connections", () => {
  test("an injected delay shows in the SDK's measured time, then the real answer", async () => {
    const { sid, client, callerId } = await fresh();
    const delayMs = 500;
    await addFault({ account_sid: sid, times: 1, action: { delay_ms: delayMs } });
    const started = performance.now();
    const fetched = await client.outgoingCallerIds(callerId.sid).fetch();
    const elapsed = performance.now() - started;
    assert.equal(fetched.friendlyName, "Front desk");
    assert.ok(elapsed >= delayMs, `the SDK measured ${elapsed} ms, less than the ${delayMs} ms delay`);
  });

  test("a dropped connection surfaces as the SDK's connection error, not a RestException", async () => {
    const { sid, client, callerId } = await fresh();
    const rule = await addFault({ account_sid: sid, times: 1, action: { drop: true } });
    await assert.rejects(client.outgoingCallerIds.list(), (err) => {
      assert.ok(!(err instanceof twilio.RestException), `a connection error, not ${err}`);
      assert.equal(err.code, "ECONNRESET", `${err.code}: ${err.message}`);
      assert.match(err.message, /socket hang up/);
      return true;
    });
    // The next request gets its answer, and the journal shows the drop.
    assert.deepEqual(
      (await client.outgoingCallerIds.list()).map((c) => c.sid),
      [callerId.sid],
    );
    const requests = await listRequests(sid);
    assert.deepEqual(
      requests.map((r) => [r.status, r.fault?.id ?? null]),
      [
        [0, rule.id],
        [200, null],
      ],
    );
  });
});
