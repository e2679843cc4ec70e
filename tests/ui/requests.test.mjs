// The Requests view: a failing request shows its Twilio error code, and each request's form
// parameters and query string open on demand, by keyboard or mouse, as text.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Emulator, newPage, openBrowser, shoot } from "./browser.mjs";

let emulator;
let browser;
let account;

before(async () => {
  emulator = await new Emulator().start();
  browser = await openBrowser();
  const created = await emulator.control("POST", "/accounts", { friendly_name: "Requests suite" });
  account = { sid: created.sid, token: created.auth_token };
});

after(async () => {
  await browser?.close();
  await emulator?.close();
});

/** A Twilio API request as `account`; its status, JSON body and request id. */
async function twilio(method, rest, form) {
  const res = await fetch(`${emulator.url}/2010-04-01/Accounts/${account.sid}${rest}`, {
    method,
    headers: {
      Authorization: `Basic ${Buffer.from(`${account.sid}:${account.token}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  return { status: res.status, body: await res.json(), id: res.headers.get("twilio-request-id") };
}

async function openInspector() {
  const page = await newPage(browser);
  // The console errors but the browser's own /favicon.ico (the page has none).
  page.scriptErrors = [];
  page.on("pageerror", (error) => page.scriptErrors.push(String(error)));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.location().url.endsWith("/favicon.ico")) page.scriptErrors.push(msg.text());
  });
  await page.goto(`${emulator.url}/_emulator/ui/`);
  await page.getByRole("status").filter({ hasText: "Live" }).first().waitFor();
  return page;
}

/** The cells of the request's row, as text, once the row is shown. */
async function cellsOf(page, id) {
  const row = page.locator(`#requests-list tr[data-request-id="${id}"]`);
  await row.waitFor({ timeout: 5000 });
  return row.locator("td").allInnerTexts();
}

test("a failing request shows its Twilio error code, a success none", async () => {
  const page = await openInspector();
  const bad = await twilio("POST", "/OutgoingCallerIds.json", { PhoneNumber: "abc" });
  assert.equal(bad.status, 400);
  const missing = await twilio("GET", "/OutgoingCallerIds/PN00000000000000000000000000000000.json");
  assert.equal(missing.status, 404);
  const listed = await twilio("GET", "/OutgoingCallerIds.json?PageSize=2");
  assert.equal(listed.status, 200);

  // Time, method, path, status, error code, request id, parameters.
  const badCells = await cellsOf(page, bad.id);
  assert.deepEqual(badCells.slice(1, 6), [
    "POST", `/2010-04-01/Accounts/${account.sid}/OutgoingCallerIds.json`, "400", String(bad.body.code), bad.id,
  ]);
  assert.equal(bad.body.code, 21421);
  assert.equal((await cellsOf(page, missing.id))[4], "20404");
  assert.equal((await cellsOf(page, listed.id))[4], "—");
  await shoot(page, "09-request-error-codes");
  assert.deepEqual(page.scriptErrors, []);
  await page.close();
});

test("a request's parameters open by keyboard as text, and stay open as requests arrive", async () => {
  const page = await openInspector();
  const hostile = "<b>x</b>";
  const made = await twilio("POST", "/OutgoingCallerIds.json", { PhoneNumber: "+14155550150", FriendlyName: hostile });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  await cellsOf(page, made.id);

  const toggle = page.getByRole("button", { name: `Parameters of ${made.id}` });
  const panel = page.locator(`#params-${made.id}`);
  assert.equal(await toggle.getAttribute("aria-expanded"), "false");
  assert.equal(await panel.isVisible(), false, "closed at first");
  await toggle.focus();
  await page.keyboard.press("Enter");
  assert.equal(await toggle.getAttribute("aria-expanded"), "true");
  const form = panel.getByRole("list", { name: `Form parameters of ${made.id}` });
  await form.getByText("PhoneNumber = +14155550150", { exact: true }).waitFor();
  await form.getByText(`FriendlyName = ${hostile}`, { exact: true }).waitFor();
  assert.equal(await page.locator("#requests b").count(), 0, "no element made from the value");
  assert.equal(await panel.getByText("no parameters", { exact: true }).count(), 1, "no query string");
  await shoot(page, "10-request-parameters");

  // Another request reloads the view: the panel stays open and the button keeps the focus.
  const other = await twilio("GET", "/OutgoingCallerIds.json?FriendlyName=a%26b");
  await cellsOf(page, other.id);
  await form.getByText("PhoneNumber = +14155550150", { exact: true }).waitFor();
  const focused = await page.evaluate(() => document.activeElement?.getAttribute("aria-label"));
  assert.equal(focused, `Parameters of ${made.id}`);

  // A GET's query string, by mouse; then closing it again.
  await page.getByRole("button", { name: `Parameters of ${other.id}` }).click();
  const query = page.getByRole("list", { name: `Query string of ${other.id}` });
  await query.getByText("FriendlyName = a&b", { exact: true }).waitFor();
  await page.keyboard.press("Space");
  await page.locator(`#params-${other.id}`).waitFor({ state: "hidden" });
  assert.deepEqual(page.dialogs, []);
  assert.deepEqual(page.scriptErrors, []);
  await page.close();
});
