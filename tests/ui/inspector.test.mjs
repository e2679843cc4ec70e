// The inspector page in a real browser against the release binary: the manual flow end to end
// on the page's keypad, a wrong code, a hostile FriendlyName, and the account filter.

import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";

import {
  CallbackReceiver, Emulator, OUT, newPage, openBrowser, shoot, validationRequest, waitFor,
} from "./browser.mjs";

const MANUAL = "+15005550005";
let emulator;
let receiver;
let browser;
let account;

before(async () => {
  emulator = await new Emulator().start();
  receiver = await new CallbackReceiver().start();
  browser = await openBrowser();
  const created = await emulator.control("POST", "/accounts", { friendly_name: "UI suite" });
  account = { sid: created.sid, token: created.auth_token };
});

after(async () => {
  await browser?.close();
  await receiver?.stop();
  await emulator?.close();
});

async function openInspector() {
  const page = await newPage(browser);
  await page.goto(`${emulator.url}/`);
  assert.match(page.url(), /\/_emulator\/ui\/$/);
  await page.getByRole("status").filter({ hasText: "Live" }).first().waitFor();
  return page;
}

async function keyOnPad(card, digits) {
  for (const digit of digits) {
    await card.getByRole("button", { name: digit, exact: true }).click();
  }
  await card.getByRole("button", { name: "Send digits" }).click();
}

test("a manual call keyed on the page's keypad verifies the number and sends its callback", async () => {
  const page = await openInspector();
  await shoot(page, "01-empty");
  const callbackUrl = `${receiver.url}/status`;
  const started = Date.now();
  const created = await validationRequest(emulator, account, {
    PhoneNumber: MANUAL, FriendlyName: "Keypad line", StatusCallback: callbackUrl,
  });
  const card = page.locator(`article[data-call-sid="${created.call_sid}"]`);
  // Live, without a reload: the call appears and waits for digits.
  await card.locator("h3").getByText("in-progress", { exact: true }).waitFor({ timeout: 5000 });
  console.log(`# the call appeared on the page ${Date.now() - started} ms after the request`);
  await card.getByRole("group", { name: `Keypad for ${MANUAL}` }).waitFor();
  await card.getByText(created.validation_code, { exact: true }).waitFor();
  await shoot(page, "02-waiting-for-digits");

  await keyOnPad(card, created.validation_code);
  await card.locator("h3").getByText("completed", { exact: true }).waitFor();
  await card.locator("h3").getByText("verification success", { exact: true }).waitFor();
  assert.equal(await card.getByRole("group", { name: /Keypad/ }).count(), 0, "no keypad once ended");
  const call = await emulator.call(created.call_sid);
  assert.equal(call.digits, created.validation_code);
  assert.equal(call.verification_status, "success");

  // The caller ID is listed under Caller IDs, and the callback shows delivered with its signature.
  const ids = page.locator(`#caller-ids [data-account="${account.sid}"]`);
  await ids.getByText(MANUAL, { exact: true }).waitFor();
  await ids.getByText("Keypad line", { exact: true }).waitFor();
  const received = await waitFor(() => receiver.requests.find((r) => r.body.includes(created.call_sid)), "the callback");
  const callback = page.locator(`#callbacks article[data-call-sid="${created.call_sid}"]`);
  await callback.getByText("delivered", { exact: true }).waitFor();
  await callback.getByText(received.headers["x-twilio-signature"], { exact: true }).waitFor();
  await callback.getByText("HTTP 200").waitFor();
  // The request is in the Requests table.
  await page.locator("#requests-list").getByText("POST", { exact: true }).first().waitFor();

  for (const id of ["calls", "caller-ids", "phones", "callbacks", "requests", "accounts"]) {
    await page.locator(`#${id}`).screenshot({ path: path.join(OUT, `view-${id}.png`) });
  }
  await shoot(page, "03-completed");
  assert.deepEqual(page.dialogs, []);
  await page.close();
});

test("a wrong code keyed on the page fails the verification and creates nothing", async () => {
  const page = await openInspector();
  const phone = "+14155550123";
  await emulator.control("PUT", `/accounts/${account.sid}/phones/${encodeURIComponent(phone)}`, { behavior: "manual" });
  const created = await validationRequest(emulator, account, { PhoneNumber: phone });
  const wrong = created.validation_code.split("").map((d) => String((Number(d) + 1) % 10)).join("");
  const card = page.locator(`article[data-call-sid="${created.call_sid}"]`);
  await card.getByRole("group", { name: `Keypad for ${phone}` }).waitFor({ timeout: 5000 });
  await keyOnPad(card, wrong);
  await card.locator("h3").getByText("verification failed", { exact: true }).waitFor();
  await card.locator("h3").getByText("completed", { exact: true }).waitFor();
  const listed = await emulator.control("GET", `/accounts/${account.sid}/outgoing-caller-ids`);
  assert.ok(!listed.outgoing_caller_ids.some((r) => r.phone_number === phone), "no caller ID made");
  assert.equal(await page.locator(`#caller-ids`).getByText(phone, { exact: true }).count(), 0);
  await shoot(page, "04-wrong-code");
  await page.close();
});

test("a hostile FriendlyName renders as text and runs nothing", async () => {
  const page = await openInspector();
  const hostile = "<img src=x onerror=alert(1)>";
  await emulator.seedCallerId(account.sid, "+14155550124", hostile);
  const ids = page.locator(`#caller-ids [data-account="${account.sid}"]`);
  await ids.getByText(hostile, { exact: true }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator("#caller-ids img").count(), 0, "no element made from the name");
  // Rename it on the page, through the Twilio API, and see the new name live.
  const row = ids.locator("li", { hasText: "+14155550124" });
  await row.getByRole("textbox").fill("Renamed on the page");
  await row.getByRole("button", { name: "Rename" }).click();
  await ids.getByText("Renamed on the page", { exact: true }).first().waitFor();
  await shoot(page, "05-hostile-name");
  await page.waitForTimeout(300);
  assert.deepEqual(page.dialogs, [], "no dialog fired");
  assert.deepEqual(page.errors.filter((e) => !e.includes("favicon")), []);
  await page.close();
});

test("the account filter shows one account and keeps others out", async () => {
  const page = await openInspector();
  await page.locator("#account-filter").selectOption(account.sid);
  await page.getByRole("status").filter({ hasText: "Live" }).first().waitFor();
  const other = await emulator.control("POST", "/accounts", { friendly_name: "Other" });
  await emulator.seedCallerId(other.sid, "+14155550125", "Not shown");
  await emulator.seedCallerId(account.sid, "+14155550126", "Shown");
  await page.locator("#caller-ids").getByText("Shown", { exact: true }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator("#caller-ids").getByText("Not shown").count(), 0);
  await page.setViewportSize({ width: 420, height: 900 });
  await shoot(page, "06-narrow-filtered");
  await page.close();
});
