// The page's reload on `resync`: with an event backlog of 1 (`--event-backlog 1`), a burst of
// changes leaves the page's event reader behind, the server sends `resync`, and the page loads
// its views again, so it shows what was made during the burst.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Emulator, newPage, openBrowser } from "./browser.mjs";

let emulator;
let browser;

before(async () => {
  emulator = await new Emulator({ extraArgs: ["--event-backlog", "1"] }).start();
  browser = await openBrowser();
});

after(async () => {
  await browser?.close();
  await emulator?.close();
});

test("after a resync the page reloads and shows the rows made during the burst", async () => {
  const account = await emulator.control("POST", "/accounts", { friendly_name: "Burst" });
  const page = await newPage(browser);
  await page.goto(`${emulator.url}/_emulator/ui/`);
  await page.locator("#account-filter").selectOption(account.sid);
  await page.getByRole("status").filter({ hasText: /^Live$/ }).waitFor();

  // Bursts of parallel creations until the reader has fallen behind (usually the first).
  const resynced = page.getByRole("status").filter({ hasText: "Live (resynchronised)" });
  let made = 0;
  let last = "";
  for (let round = 0; round < 20 && !(await resynced.isVisible()); round++) {
    const burst = [];
    for (let i = 0; i < 100; i++, made++) {
      last = `+1415556${String(made).padStart(4, "0")}`;
      burst.push(emulator.seedCallerId(account.sid, last, `burst ${made}`));
    }
    await Promise.all(burst);
    await page.waitForTimeout(100);
  }
  await resynced.waitFor({ timeout: 5000 });
  await page.locator("#caller-ids-list").getByText(last, { exact: true }).waitFor();
  assert.equal(await page.locator("#caller-ids-list [data-caller-id-sid]").count(), made);
  await page.close();
});
