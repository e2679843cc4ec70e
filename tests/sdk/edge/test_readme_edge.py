"""The README's snippet for this mode, run as it stands: the block after `<!-- tested: edge -->`
in the top-level README.md, in the data folder (where its CA file is), against the edge
emulator, with the proxy's address put in for the README's."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE.parents[2] / "README.md"
CLI_BIN = HERE.parent / "cli" / "node_modules" / ".bin"
README_PROXY = "http://127.0.0.1:4016"
BLOCK = re.compile(r"^<!-- tested: edge -->\n```sh\n(.*?)\n```$", re.S | re.M)


def test_the_readme_cli_snippet_runs(edge):
    blocks = BLOCK.findall(README.read_text())
    assert len(blocks) == 1, "README.md has one tested edge snippet"
    code = blocks[0]
    assert code.count(README_PROXY) == 1, "the snippet names the proxy once"
    env = edge.client_env(PATH=f"{CLI_BIN}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(
        ["bash", "-eu", "-c", code.replace(README_PROXY, edge.proxy)],
        cwd=edge.ca.parent, env=env, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    # Two JSON documents: the validation request, then the list with the verified number.
    documents = [json.loads(d) for d in re.findall(r"^\[.*?^\]", done.stdout, re.S | re.M)]
    assert documents[0][0]["validationCode"].isdigit()
    assert [c["phoneNumber"] for c in documents[-1]] == ["+14155550100"]
    journal = edge.emulator.requests_journal("AC" + "a" * 32)
    assert {e["via"] for e in journal} == {"proxy"}
