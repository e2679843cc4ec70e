// With --control-token, the page asks for the token; without it the control API refuses the
// page's calls, with it they work and the stream is live.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Emulator, newPage, openBrowser, shoot } from "./browser.mjs";

const TOKEN = "ui-s3cret";
let emulator;
let browser;

before(async () => {
  emulator = await new Emulator({ extraArgs: ["--control-token", TOKEN] }).start();
  browser = await openBrowser();
});

after(async () => {
  await browser?.close();
  await emulator?.close();
});

test("the page asks for the control token and sends it on every call and the stream", async () => {
  const page = await newPage(browser);
  await page.goto(`${emulator.url}/_emulator/ui/`);
  const input = page.getByLabel("Control token");
  await input.waitFor();
  await shoot(page, "07-token-asked");
  // Without the token, the control API refuses the page.
  const refused = await page.evaluate(async () => (await fetch("/_emulator/accounts")).status);
  assert.equal(refused, 401);
  await input.fill("wrong");
  await page.getByRole("button", { name: "Use token" }).click();
  await page.getByText("The control token was refused.").waitFor();

  await input.fill(TOKEN);
  await page.getByRole("button", { name: "Use token" }).click();
  await page.getByRole("status").filter({ hasText: "Live" }).first().waitFor();
  assert.equal(await page.locator("#token-form").isHidden(), true);
  // The accounts load, and a change made elsewhere arrives on the stream.
  await page.locator("#accounts").getByText("AC" + "a".repeat(32)).first().waitFor();
  const res = await fetch(`${emulator.url}/_emulator/accounts`, {
    method: "POST",
    headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ friendly_name: "Made elsewhere" }),
  });
  assert.equal(res.status, 201);
  await page.locator("#accounts").getByText("Made elsewhere").waitFor({ timeout: 5000 });
  assert.deepEqual(page.dialogs, []);
  await page.close();
});
