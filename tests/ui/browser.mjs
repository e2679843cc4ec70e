// Debian's chromium driven by playwright-core, a fresh profile per browser; the emulator and
// the StatusCallback receiver come from the SDK suite's helpers (Node standard library only).

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

export { CallbackReceiver, DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, Emulator, waitFor } from "../sdk/node/emulator.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
/** Where the screenshots go (git-ignored). */
export const OUT = path.join(here, "out");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** A browser with a fresh profile; `close()` removes the profile. */
export async function openBrowser() {
  const profile = mkdtempSync(path.join(os.tmpdir(), "callerid-ui-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A page that fails the test on any dialog (an alert would be script run from data) and
 * keeps the console errors. */
export async function newPage(browser) {
  const page = await browser.context.newPage();
  page.dialogs = [];
  page.errors = [];
  page.on("dialog", async (dialog) => {
    page.dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  page.on("pageerror", (error) => page.errors.push(String(error)));
  page.on("console", (msg) => { if (msg.type() === "error") page.errors.push(msg.text()); });
  return page;
}

/** Saves a screenshot under out/: the full page, or with `{ fullPage: false }` the viewport
 * only (a page thousands of rows long takes software rendering longer than a screenshot's
 * timeout on a small machine). */
export async function shoot(page, name, { fullPage = true } = {}) {
  mkdirSync(OUT, { recursive: true });
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

/** A validation request over plain HTTP, as `account` ({sid, token}). */
export async function validationRequest(emulator, account, form) {
  const res = await fetch(`${emulator.url}/2010-04-01/Accounts/${account.sid}/OutgoingCallerIds.json`, {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${account.sid}:${account.token}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams(form).toString(),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`validation request -> ${res.status}: ${JSON.stringify(body)}`);
  return body;
}
