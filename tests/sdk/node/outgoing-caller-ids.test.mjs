// twilio-node against the emulator: every Outgoing Caller ID operation through the SDK's
// public API, and the errors it surfaces.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import twilio from "twilio";

import { CallbackReceiver, DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, Emulator, waitFor } from "./emulator.mjs";

const SEVEN = [1, 2, 3, 4, 5, 6, 7].map((i) => `+1415555010${i}`);

let emulator;

before(async () => {
  emulator = await new Emulator().start();
});

after(async () => {
  await emulator?.close();
});

function makeClient(sid, token) {
  const client = twilio(sid, token);
  client.api.baseUrl = emulator.url;
  return client;
}

/** A fresh account for one test, and a client for it. */
async function fresh() {
  const account = await emulator.createAccount();
  return { ...account, client: makeClient(account.sid, account.authToken) };
}

async function seedSeven(accountSid) {
  const sids = [];
  for (const phone of SEVEN) sids.push((await emulator.seedCallerId(accountSid, phone)).sid);
  return sids;
}

async function listRequests(accountSid) {
  return (await emulator.requestsJournal(accountSid)).filter(
    (r) => r.method === "GET" && r.path.endsWith("/OutgoingCallerIds.json"),
  );
}

async function rejects(promise, status, code) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof twilio.RestException, `expected RestException, got ${err}`);
    assert.equal(err.status, status);
    assert.equal(err.code, code);
    assert.match(err.moreInfo, new RegExp(`/errors/${code}$`));
    return true;
  });
}

const sorted = (xs) => [...xs].sort();

describe("validation requests", () => {
  test("create with every parameter", async () => {
    const { sid, client } = await fresh();
    const receiver = await new CallbackReceiver().start();
    try {
      const statusCallback = `${receiver.url}/status?case=all-params`;
      const validation = await client.validationRequests.create({
        phoneNumber: "+14155550100",
        friendlyName: "Front desk",
        callDelay: 5,
        extension: "12w#",
        statusCallback,
        statusCallbackMethod: "GET",
      });
      assert.equal(validation.accountSid, sid);
      assert.match(validation.callSid, /^CA[0-9a-f]{32}$/);
      assert.equal(validation.friendlyName, "Front desk");
      assert.equal(validation.phoneNumber, "+14155550100");
      assert.match(validation.validationCode, /^[0-9]{6}$/);

      const create = (await emulator.requestsJournal(sid)).filter((r) => r.method === "POST").at(-1);
      assert.equal(create.status, 200);
      assert.deepEqual(create.params, {
        PhoneNumber: "+14155550100",
        FriendlyName: "Front desk",
        CallDelay: "5",
        Extension: "12w#",
        StatusCallback: statusCallback,
        StatusCallbackMethod: "GET",
      });

      const call = await waitFor(async () => {
        const c = await client.calls(validation.callSid).fetch();
        return c.status === "completed" && c;
      }, "the verification call to complete");
      assert.equal(call.to, "+14155550100");
      const [cb] = await waitFor(() => receiver.requests.length && receiver.requests, "the StatusCallback");
      assert.equal(cb.method, "GET");
      assert.ok(cb.path.startsWith("/status?case=all-params&"), cb.path);
    } finally {
      await receiver.stop();
    }
  });

  test("defaults: friendly name is the formatted number", async () => {
    const { client } = await fresh();
    const validation = await client.validationRequests.create({ phoneNumber: "+14155550199" });
    assert.equal(validation.phoneNumber, "+14155550199");
    assert.equal(validation.friendlyName, "(415) 555-0199");
  });

  test("createWithHttpInfo answers 200", async () => {
    const { client } = await fresh();
    const response = await client.validationRequests.createWithHttpInfo({ phoneNumber: "+14155550198" });
    assert.equal(response.statusCode, 200);
    assert.equal(response.body.phoneNumber, "+14155550198");
  });
});

describe("list, each, page", () => {
  test("list follows next_page_uri across pages", async () => {
    const { sid, client } = await fresh();
    const seeded = await seedSeven(sid);
    const listed = await client.outgoingCallerIds.list({ pageSize: 2 });
    assert.equal(listed.length, 7);
    assert.deepEqual(sorted(listed.map((c) => c.sid)), sorted(seeded));
    assert.deepEqual(sorted(listed.map((c) => c.phoneNumber)), sorted(SEVEN));
    assert.ok(listed.every((c) => c.accountSid === sid));
    const pages = await listRequests(sid);
    assert.equal(pages.length, 4); // 2 + 2 + 2 + 1
    assert.ok(pages.every((p) => p.query.PageSize === "2"));
    assert.ok(!("PageToken" in pages[0].query));
    assert.ok(pages.slice(1).every((p) => "PageToken" in p.query));
  });

  test("list with limit stops early", async () => {
    const { sid, client } = await fresh();
    await seedSeven(sid);
    const listed = await client.outgoingCallerIds.list({ limit: 5, pageSize: 2 });
    assert.equal(listed.length, 5);
    assert.equal(new Set(listed.map((c) => c.sid)).size, 5);
    assert.equal((await listRequests(sid)).length, 3);
    assert.equal((await client.outgoingCallerIds.list()).length, 7);
    assert.equal((await client.outgoingCallerIds.list({ limit: 3 })).length, 3);
  });

  test("list filters", async () => {
    const { sid, client } = await fresh();
    await seedSeven(sid);
    await emulator.seedCallerId(sid, "+14155550120", "Sales");
    await emulator.seedCallerId(sid, "+14155550121", "Sales");

    const byNumber = await client.outgoingCallerIds.list({ phoneNumber: "+14155550103" });
    assert.deepEqual(byNumber.map((c) => c.phoneNumber), ["+14155550103"]);
    assert.equal(byNumber[0].friendlyName, "(415) 555-0103");

    const byName = await client.outgoingCallerIds.list({ friendlyName: "Sales", pageSize: 1 });
    assert.deepEqual(sorted(byName.map((c) => c.phoneNumber)), ["+14155550120", "+14155550121"]);

    const both = await client.outgoingCallerIds.list({ phoneNumber: "+14155550121", friendlyName: "Sales" });
    assert.deepEqual(both.map((c) => c.phoneNumber), ["+14155550121"]);

    assert.deepEqual(await client.outgoingCallerIds.list({ phoneNumber: "+14155550199" }), []);
    assert.deepEqual(await client.outgoingCallerIds.list({ friendlyName: "sales" }), []);
  });

  test("page, nextPage, previousPage", async () => {
    const { sid, client } = await fresh();
    const seeded = await seedSeven(sid);
    const first = await client.outgoingCallerIds.page({ pageSize: 3 });
    assert.equal(first.instances.length, 3);
    const second = await first.nextPage();
    assert.equal(second.instances.length, 3);
    const third = await second.nextPage();
    assert.equal(third.instances.length, 1);
    assert.equal(third.nextPage(), undefined);
    const all = [first, second, third].flatMap((p) => p.instances.map((c) => c.sid));
    assert.deepEqual(sorted(all), sorted(seeded));

    const back = await third.previousPage();
    assert.deepEqual(back.instances.map((c) => c.sid), second.instances.map((c) => c.sid));
    assert.equal(first.previousPage(), undefined);

    // getPage takes the absolute URL the SDK built from next_page_uri
    const again = await client.outgoingCallerIds.getPage(first.nextPageUrl);
    assert.deepEqual(again.instances.map((c) => c.sid), second.instances.map((c) => c.sid));
    assert.ok(first.nextPageUrl.startsWith(`${emulator.url}/2010-04-01/`), first.nextPageUrl);
  });

  test("each visits every record across pages and honours limit", async () => {
    const { sid, client } = await fresh();
    const seeded = await seedSeven(sid);
    const seen = [];
    await new Promise((resolve, reject) => {
      client.outgoingCallerIds.each({
        pageSize: 2,
        callback: (item) => seen.push(item.sid),
        done: (err) => (err ? reject(err) : resolve()),
      });
    });
    assert.deepEqual(sorted(seen), sorted(seeded));

    const limited = [];
    await client.outgoingCallerIds.each({ pageSize: 2, limit: 3 }, (item) => limited.push(item.sid));
    assert.equal(limited.length, 3);
  });
});

describe("fetch, update, remove", () => {
  test("the whole life of a caller ID", async () => {
    const { sid, client } = await fresh();
    const pn = (await emulator.seedCallerId(sid, "+14155550130", "Reception")).sid;

    const fetched = await client.outgoingCallerIds(pn).fetch();
    assert.equal(fetched.sid, pn);
    assert.equal(fetched.accountSid, sid);
    assert.equal(fetched.phoneNumber, "+14155550130");
    assert.equal(fetched.friendlyName, "Reception");
    assert.ok(fetched.dateCreated instanceof Date && !Number.isNaN(fetched.dateCreated.getTime()));
    assert.equal(fetched.uri, `/2010-04-01/Accounts/${sid}/OutgoingCallerIds/${pn}.json`);

    const updated = await client.outgoingCallerIds(pn).update({ friendlyName: "Back office" });
    assert.equal(updated.sid, pn);
    assert.equal(updated.friendlyName, "Back office");
    assert.ok(updated.dateUpdated >= fetched.dateUpdated);
    assert.equal((await client.outgoingCallerIds(pn).fetch()).friendlyName, "Back office");

    const viaInstance = await fetched.update({ friendlyName: "Third" });
    assert.equal(viaInstance.friendlyName, "Third");

    const removed = await client.outgoingCallerIds(pn).removeWithHttpInfo();
    assert.equal(removed.statusCode, 204);
    assert.equal(removed.body, true);
    assert.deepEqual(await client.outgoingCallerIds.list(), []);

    await rejects(client.outgoingCallerIds(pn).fetch(), 404, 20404);
    await rejects(client.outgoingCallerIds(pn).remove(), 404, 20404);
    await rejects(client.outgoingCallerIds(pn).update({ friendlyName: "x" }), 404, 20404);
  });

  test("remove resolves true", async () => {
    const { sid, client } = await fresh();
    const pn = (await emulator.seedCallerId(sid, "+14155550131")).sid;
    assert.equal(await client.outgoingCallerIds(pn).remove(), true);
  });

  test("friendly name over 64 characters is 400 20001", async () => {
    const { sid, client } = await fresh();
    const pn = (await emulator.seedCallerId(sid, "+14155550132")).sid;
    await rejects(client.outgoingCallerIds(pn).update({ friendlyName: "x".repeat(65) }), 400, 20001);
    assert.equal((await client.outgoingCallerIds(pn).update({ friendlyName: "x".repeat(64) })).friendlyName, "x".repeat(64));
  });
});

describe("errors", () => {
  test("wrong token is 401 20003", async () => {
    const { sid } = await fresh();
    const pn = (await emulator.seedCallerId(sid, "+14155550143")).sid;
    const client = makeClient(sid, "0".repeat(32));
    await rejects(client.outgoingCallerIds(pn).fetch(), 401, 20003);
    await rejects(client.outgoingCallerIds.list(), 401, 20003);
    await rejects(client.outgoingCallerIds.page(), 401, 20003);
    await rejects(client.validationRequests.create({ phoneNumber: "+14155550100" }), 401, 20003);
  });

  test("bad number is 400 21421", async () => {
    const { client } = await fresh();
    await assert.rejects(client.validationRequests.create({ phoneNumber: "not-a-number" }), (err) => {
      assert.ok(err instanceof twilio.RestException);
      assert.equal(err.status, 400);
      assert.equal(err.code, 21421);
      assert.match(err.message, /not-a-number/);
      return true;
    });
  });

  test("re-verification is 400 21450", async () => {
    const { sid, client } = await fresh();
    await emulator.seedCallerId(sid, "+14155550140");
    await rejects(client.validationRequests.create({ phoneNumber: "+14155550140" }), 400, 21450);
  });

  for (const [params, code] of [
    [{ callDelay: 61 }, 21454],
    [{ statusCallback: "not a url" }, 21456],
    [{ statusCallbackMethod: "PUT" }, 20001],
    [{ friendlyName: "x".repeat(65) }, 20001],
    [{ extension: "12a" }, 20001],
  ]) {
    test(`invalid ${Object.keys(params)[0]} is 400 ${code}`, async () => {
      const { client } = await fresh();
      await rejects(client.validationRequests.create({ phoneNumber: "+14155550141", ...params }), 400, code);
    });
  }

  test("another account's caller ID is 404", async () => {
    const { client } = await fresh();
    const other = await emulator.createAccount("other");
    const foreign = (await emulator.seedCallerId(other.sid, "+14155550142")).sid;
    await rejects(client.outgoingCallerIds(foreign).fetch(), 404, 20404);
  });

  test("the development account works with its documented credentials", async () => {
    const client = makeClient(DEV_ACCOUNT_SID, DEV_AUTH_TOKEN);
    const page = await client.outgoingCallerIds.page({ pageSize: 1 });
    assert.ok(Array.isArray(page.instances));
  });
});

describe("pointing the SDK at the emulator", () => {
  // Documents why the suites (and users) must unset TWILIO_EDGE / TWILIO_REGION: with either
  // set, the SDK rewrites the host name of baseUrl (`localhost` becomes
  // `localhost.sydney.us1.localhost`), and requests no longer reach the emulator. (An IPv4
  // literal happens to survive in twilio-node, because WHATWG URL refuses the rewritten name;
  // twilio-python mangles both.)
  for (const [env, staysOnEmulator] of [
    [{}, true],
    [{ TWILIO_EDGE: "sydney" }, false],
    [{ TWILIO_REGION: "au1" }, false],
  ]) {
    test(`env ${JSON.stringify(env)}: requests ${staysOnEmulator ? "reach" : "miss"} the emulator`, async () => {
      const seen = [];
      const httpClient = {
        request: async (opts) => {
          seen.push(opts.uri);
          throw new Error("not sent");
        },
      };
      const client = twilio(DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, { env, httpClient });
      const base = emulator.url.replace("127.0.0.1", "localhost");
      client.api.baseUrl = base;
      await assert.rejects(client.outgoingCallerIds.page(), /not sent/);
      assert.equal(seen[0].startsWith(`${base}/2010-04-01/`), staysOnEmulator, seen[0]);
    });
  }
});
