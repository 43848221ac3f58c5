"""`gre serve`: the vLLM command it builds (checked with --dry-run; nothing is started)."""

from __future__ import annotations

import json
import shlex

from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.cli.serve import VLLM_MODULE, vllm_command


def argv(output: str) -> list[str]:
    return shlex.split(output.strip().splitlines()[0])


def flag(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def test_dry_run_prints_the_vllm_command():
    result = CliRunner().invoke(
        app,
        ["serve", "--dry-run", "--tp", "2", "--dp", "4", "--port", "9000", "--images", "2"],
    )
    assert result.exit_code == 0, result.output
    cmd = argv(result.stdout)
    assert cmd[1:3] == ["-m", VLLM_MODULE]
    assert flag(cmd, "--model") == "Anonymous0515/GRE"  # the settings' default model
    assert flag(cmd, "--served-model-name") == "Anonymous0515/GRE"
    assert flag(cmd, "--tensor-parallel-size") == "2"
    assert flag(cmd, "--data-parallel-size") == "4"
    assert (flag(cmd, "--host"), flag(cmd, "--port")) == ("127.0.0.1", "9000")
    assert json.loads(flag(cmd, "--limit-mm-per-prompt")) == {"image": 2, "video": 0}
    assert flag(cmd, "--max-model-len") == "8192"
    assert "--enable-prefix-caching" in cmd
    assert "--enable-auto-tool-choice" in cmd and flag(cmd, "--tool-call-parser") == "hermes"


def test_dry_run_options_and_extra_arguments(monkeypatch):
    monkeypatch.setenv("GRE_MODEL__MODEL", "Anonymous0515/GRE-RL-I")
    result = CliRunner().invoke(
        app,
        [
            "serve",
            "--dry-run",
            "--no-prefix-caching",
            "--tool-call-parser",
            "",
            "--python",
            "/opt/vllm/bin/python",
            "--max-pixels",
            "802816",
            "--",
            "--max-num-seqs",
            "64",
        ],
    )
    assert result.exit_code == 0, result.output
    cmd = argv(result.stdout)
    assert cmd[0] == "/opt/vllm/bin/python"
    assert flag(cmd, "--model") == "Anonymous0515/GRE-RL-I"
    assert "--no-enable-prefix-caching" in cmd and "--enable-auto-tool-choice" not in cmd
    assert json.loads(flag(cmd, "--mm-processor-kwargs")) == {"max_pixels": 802816}
    assert cmd[-2:] == ["--max-num-seqs", "64"]


def test_vllm_command_for_a_local_model():
    cmd = vllm_command("/models/gre", python="py", served_model_name="gre", dtype="bfloat16")
    assert cmd[:5] == ["py", "-m", VLLM_MODULE, "--model", "/models/gre"]
    assert flag(cmd, "--served-model-name") == "gre" and flag(cmd, "--dtype") == "bfloat16"
    assert "--tensor-parallel-size" not in cmd  # defaults are left to vLLM
