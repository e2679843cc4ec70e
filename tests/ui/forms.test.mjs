// The page's forms by keyboard: create an account, set a callee behaviour, add a verified
// number (and see an error inline), create an API key, delete the account.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Emulator, newPage, openBrowser, shoot } from "./browser.mjs";

let emulator;
let browser;

before(async () => {
  emulator = await new Emulator().start();
  browser = await openBrowser();
});

after(async () => {
  await browser?.close();
  await emulator?.close();
});

test("accounts, behaviours and fixtures are managed from the page, errors inline", async () => {
  const page = await newPage(browser);
  await page.goto(`${emulator.url}/_emulator/ui/`);
  await page.getByRole("status").filter({ hasText: "Live" }).first().waitFor();

  // Create an account, by keyboard.
  const create = page.locator("#create-account");
  await create.getByLabel("Friendly name").fill("Made on the page");
  await create.getByLabel("Friendly name").press("Enter");
  const card = page.locator("#accounts article", { hasText: "Made on the page" });
  await card.waitFor({ timeout: 5000 });
  const sid = await card.getAttribute("data-account");
  assert.match(sid, /^AC[0-9a-f]{32}$/);

  // Its callee behaviour for a number.
  const phones = page.locator("#set-behavior");
  await phones.locator("select[name=account]").selectOption(sid);
  await phones.getByLabel("Phone number").fill("+14155550140");
  await phones.locator("select[name=behavior]").selectOption("busy");
  await phones.getByRole("button", { name: "Set behaviour" }).click();
  await phones.getByText("+14155550140 now behaves as busy").waitFor();
  const behavior = await emulator.control("GET", `/accounts/${sid}/phones/${encodeURIComponent("+14155550140")}`);
  assert.equal(behavior.behavior, "busy");

  // A verified number; a bad one shows Twilio's error inline.
  const add = page.locator("#add-caller-id");
  await add.locator("select[name=account]").selectOption(sid);
  await add.getByLabel("Phone number").fill("not a number");
  await add.getByRole("button", { name: "Add verified number" }).click();
  await add.getByRole("alert").filter({ hasText: "HTTP 400" }).waitFor();
  await add.getByLabel("Phone number").fill("+14155550141");
  await add.getByRole("button", { name: "Add verified number" }).click();
  await page.locator(`#caller-ids [data-account="${sid}"]`).getByText("+14155550141", { exact: true }).waitFor();
  assert.equal(await add.locator(".error").textContent(), "", "the error is cleared");

  // An API key, then the account is deleted and leaves the page.
  await card.getByRole("button", { name: "Create API key" }).click();
  await card.getByText(/New API key SK[0-9a-f]{32}/).waitFor();
  // The key is listed under its account, without its secret.
  const shown = (await card.getByRole("status").textContent()).match(/(SK[0-9a-f]{32}), secret ([0-9a-f]{32})/);
  await card.locator(`ul.keys [data-key="${shown[1]}"]`).waitFor();
  assert.ok(!(await card.locator("ul.keys").textContent()).includes(shown[2]), "the list shows no secret");
  await shoot(page, "08-forms");
  await card.getByRole("button", { name: `Delete account ${sid}` }).click();
  await page.locator(`#accounts article[data-account="${sid}"]`).waitFor({ state: "detached", timeout: 5000 });
  assert.deepEqual(page.dialogs, []);
  await page.close();
});
