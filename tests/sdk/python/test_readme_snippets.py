"""The README snippets, run as they are: every fenced block preceded by a
`<!-- tested: python|curl -->` line in tests/sdk/README.md and in the top-level README.md runs
against a fresh emulator, with only the address http://127.0.0.1:4015 replaced by the
emulator's. (The `node` blocks are run by the Node suite.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import DEV_ACCOUNT_SID, REPO_ROOT, SDK_ENV_VARS, Emulator

README_ADDRESS = "http://127.0.0.1:4015"
SDK_README = REPO_ROOT / "tests" / "sdk" / "README.md"
MAIN_README = REPO_ROOT / "README.md"
BLOCK = re.compile(r"^<!-- tested: (python|node|curl) -->\n```[a-z]*\n(.*?)\n```$", re.S | re.M)


def blocks(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return BLOCK.findall(path.read_text())


def cases(kinds: set[str]):
    out = []
    for path in (SDK_README, MAIN_README):
        for i, (kind, code) in enumerate(blocks(path)):
            if kind in kinds:
                out.append(pytest.param(kind, code, id=f"{path.relative_to(REPO_ROOT)}#{i}-{kind}"))
    return out


def test_sdk_readme_has_one_tested_block_of_each_kind():
    kinds = [kind for kind, _ in blocks(SDK_README)]
    assert sorted(kinds) == ["curl", "node", "python"]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in SDK_ENV_VARS}


@pytest.fixture
def fresh_emulator():
    emu = Emulator().start()
    try:
        yield emu
    finally:
        emu.close()


@pytest.mark.parametrize("kind, code", cases({"python", "curl"}))
def test_readme_snippet_runs(fresh_emulator, kind, code, tmp_path):
    assert code.count(README_ADDRESS) == 1, "the snippet names the emulator's address once"
    code = code.replace(README_ADDRESS, fresh_emulator.url)
    if kind == "python":
        cmd = [sys.executable, "-c", code]
    else:  # as a user pastes it into bash: no pipefail (the wait loop pipes into grep -q)
        cmd = ["bash", "-eu", "-c", code]
    proc = subprocess.run(cmd, cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"

    # It really talked to the emulator: it created a validation request, the number got
    # verified, and nothing answered an error except what the snippet shows on purpose.
    journal = fresh_emulator.requests_journal(DEV_ACCOUNT_SID)
    assert any(r["method"] == "POST" and r["path"].endswith("/OutgoingCallerIds.json") and r["status"] == 200
               for r in journal), journal
    unexpected = [r for r in journal if r["status"] >= 400 and not (kind == "curl" and r["status"] == 404)]
    assert unexpected == []
    if "verified" in code:
        assert re.search(r"^verified PN[0-9a-f]{32} \+14155550100 Front desk$", proc.stdout, re.M), proc.stdout
    if kind == "curl":
        assert re.search(r'"validation_code": "[0-9]{6}"', proc.stdout), proc.stdout
        assert re.search(r"^204$", proc.stdout, re.M), proc.stdout
        assert '"code": 20404' in proc.stdout
        assert '"verification_status":"success"' in proc.stdout
