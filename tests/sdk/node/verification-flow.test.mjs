// The whole verification flow through twilio-node: validation request with a StatusCallback to
// a receiver inside the test, the simulated callee keys the code, the signed callback arrives
// and the SDK's own validateRequest accepts it, and the new caller ID is listed by the SDK.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import twilio from "twilio";

import { CallbackReceiver, Emulator, waitFor } from "./emulator.mjs";

let emulator;
let receiver;

before(async () => {
  emulator = await new Emulator().start();
});

after(async () => {
  await emulator?.close();
});

async function fresh() {
  const account = await emulator.createAccount();
  const client = twilio(account.sid, account.authToken);
  client.api.baseUrl = emulator.url;
  receiver = await new CallbackReceiver().start();
  return { ...account, client, receiver };
}

/** The parameters Twilio sent: the form body for POST, the query string for GET. */
function sentParams(request) {
  const query = request.method === "POST" ? request.body : request.path.split("?")[1] ?? "";
  return Object.fromEntries(new URLSearchParams(query));
}

/** The URL and params a webhook handler passes to validateRequest. */
function urlAndParams(receiver, request) {
  const url = receiver.url + request.path;
  if (request.method === "POST") {
    assert.match(request.headers["content-type"], /^application\/x-www-form-urlencoded/);
    return [url, Object.fromEntries(new URLSearchParams(request.body))];
  }
  return [url, {}];
}

describe("verification flow", () => {
  for (const method of ["POST", "GET"]) {
    test(`success, StatusCallback by ${method}`, async () => {
      const { sid, authToken, client, receiver } = await fresh();
      try {
        const number = method === "POST" ? "+14155550160" : "+14155550161";
        const validation = await client.validationRequests.create({
          phoneNumber: number,
          friendlyName: `Verified by ${method}`,
          statusCallback: `${receiver.url}/twilio/status?flow=sdk&method=${method.toLowerCase()}`,
          statusCallbackMethod: method,
        });
        assert.match(validation.validationCode, /^[0-9]{6}$/);

        const [request] = await waitFor(() => receiver.requests.length && receiver.requests, "the StatusCallback");
        assert.equal(request.method, method);
        assert.equal(request.headers["user-agent"], "TwilioProxy/1.1");
        assert.ok(request.headers["i-twilio-idempotency-token"]);

        const params = sentParams(request);
        assert.equal(params.VerificationStatus, "success");
        assert.match(params.OutgoingCallerIdSid, /^PN[0-9a-f]{32}$/);
        assert.equal(params.CallSid, validation.callSid);
        assert.equal(params.AccountSid, sid);
        assert.equal(params.To, number);
        assert.equal(params.CallStatus, "completed");
        if (method === "GET") {
          assert.ok(request.path.startsWith("/twilio/status?flow=sdk&method=get&"), request.path);
        }

        // The SDK's own validator accepts the signature...
        const signature = request.headers["x-twilio-signature"];
        const [url, form] = urlAndParams(receiver, request);
        assert.equal(twilio.validateRequest(authToken, signature, url, form), true);
        // ...and rejects it once anything signed is changed.
        if (method === "POST") {
          assert.equal(twilio.validateRequest(authToken, signature, url, { ...form, VerificationStatus: "failed" }), false);
          assert.equal(twilio.validateRequest(authToken, signature, url, { ...form, Extra: "1" }), false);
        } else {
          const tampered = url.replace("VerificationStatus=success", "VerificationStatus=failed");
          assert.notEqual(tampered, url);
          assert.equal(twilio.validateRequest(authToken, signature, tampered, {}), false);
        }
        assert.equal(twilio.validateRequest("f".repeat(32), signature, url, form), false);

        // The new caller ID is there for the SDK.
        const pn = params.OutgoingCallerIdSid;
        const listed = await client.outgoingCallerIds.list({ phoneNumber: number });
        assert.deepEqual(listed.map((c) => c.sid), [pn]);
        assert.equal(listed[0].friendlyName, `Verified by ${method}`);
        assert.equal((await client.outgoingCallerIds(pn).fetch()).phoneNumber, number);
        assert.ok((await client.outgoingCallerIds.list()).some((c) => c.sid === pn));
        assert.equal(receiver.requests.length, 1);
      } finally {
        await receiver.stop();
      }
    });
  }

  for (const [number, callStatus] of [
    ["+15005550002", "completed"],
    ["+15005550004", "busy"],
    ["+15005550003", "no-answer"],
  ]) {
    test(`failure: ${number} ends ${callStatus}`, async () => {
      const { authToken, client, receiver } = await fresh();
      try {
        const validation = await client.validationRequests.create({
          phoneNumber: number,
          statusCallback: `${receiver.url}/status`,
        });
        const [request] = await waitFor(() => receiver.requests.length && receiver.requests, "the StatusCallback");
        const params = sentParams(request);
        assert.equal(params.VerificationStatus, "failed");
        assert.equal("OutgoingCallerIdSid" in params, false);
        assert.equal(params.CallSid, validation.callSid);
        assert.equal(params.CallStatus, callStatus);
        const [url, form] = urlAndParams(receiver, request);
        assert.equal(twilio.validateRequest(authToken, request.headers["x-twilio-signature"], url, form), true);
        assert.deepEqual(await client.outgoingCallerIds.list(), []);
        assert.equal((await client.calls(validation.callSid).fetch()).status, callStatus);
      } finally {
        await receiver.stop();
      }
    });
  }

  test("manual callee: digits posted through the control API verify the number", async () => {
    const { sid, client, receiver } = await fresh();
    try {
      const number = "+14155550163";
      await emulator.setBehavior(sid, number, "manual");
      const validation = await client.validationRequests.create({
        phoneNumber: number,
        statusCallback: `${receiver.url}/status`,
      });
      await waitFor(async () => (await emulator.call(validation.callSid)).status === "in-progress", "the call to be answered");
      await emulator.control("POST", `/calls/${validation.callSid}/digits`, { digits: validation.validationCode });
      const [request] = await waitFor(() => receiver.requests.length && receiver.requests, "the StatusCallback");
      assert.equal(sentParams(request).VerificationStatus, "success");
      assert.equal((await client.outgoingCallerIds.list({ phoneNumber: number })).length, 1);
    } finally {
      await receiver.stop();
    }
  });
});
