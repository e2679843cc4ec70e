// The README snippets for Node, run as they are: every fenced block preceded by a
// `<!-- tested: node -->` line in tests/sdk/README.md and in the top-level README.md runs
// against a fresh emulator, with only the address http://127.0.0.1:4015 replaced.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

import { DEV_ACCOUNT_SID, Emulator, REPO_ROOT, SDK_ENV_VARS } from "./emulator.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const README_ADDRESS = "http://127.0.0.1:4015";
const BLOCK = /^<!-- tested: (python|node|curl) -->\n```[a-z]*\n([\s\S]*?)\n```$/gm;

function blocks(file) {
  if (!existsSync(file)) return [];
  return [...readFileSync(file, "utf8").matchAll(BLOCK)].map((m) => ({ kind: m[1], code: m[2] }));
}

const sdkReadme = path.join(REPO_ROOT, "tests", "sdk", "README.md");
const mainReadme = path.join(REPO_ROOT, "README.md");

test("tests/sdk/README.md has one tested node block", () => {
  assert.equal(blocks(sdkReadme).filter((b) => b.kind === "node").length, 1);
});

for (const file of [sdkReadme, mainReadme]) {
  blocks(file)
    .filter((b) => b.kind === "node")
    .forEach(({ code }, i) => {
      test(`${path.relative(REPO_ROOT, file)} node snippet #${i} runs`, async () => {
        const emulator = await new Emulator().start();
        try {
          assert.equal(code.split(README_ADDRESS).length - 1, 1, "the snippet names the emulator's address once");
          const env = { ...process.env };
          for (const name of SDK_ENV_VARS) delete env[name];
          // run from this folder so that require("twilio") finds node_modules, as in a user's project
          const proc = spawnSync(process.execPath, ["-e", code.replace(README_ADDRESS, emulator.url)], {
            cwd: here,
            env,
            encoding: "utf8",
            timeout: 120_000,
          });
          assert.equal(proc.status, 0, `stdout:\n${proc.stdout}\nstderr:\n${proc.stderr}`);
          const journal = await emulator.requestsJournal(DEV_ACCOUNT_SID);
          assert.ok(
            journal.some((r) => r.method === "POST" && r.path.endsWith("/OutgoingCallerIds.json") && r.status === 200),
            JSON.stringify(journal),
          );
          assert.deepEqual(journal.filter((r) => r.status >= 400), []);
          if (code.includes("verified")) {
            assert.match(proc.stdout, /^verified PN[0-9a-f]{32} \+14155550100 Front desk$/m);
          }
        } finally {
          await emulator.close();
        }
      });
    });
}
