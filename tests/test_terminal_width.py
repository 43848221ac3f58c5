"""Output fits an 80-column terminal (issue 15.4): rich wraps or folds, never cuts a figure.
`gre locate`'s progress through a real pty; `gre eval score` and `gre tools list` with
COLUMNS=80."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pexpect
from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.graphs.chat.runs import stage_line
from tests.test_eval_cli import ROWS

ROOT = Path(__file__).resolve().parents[1]
GRE = str(Path(sys.executable).with_name("gre"))
IMAGE = ROOT / "examples" / "helsinki-street.jpg"
TRACE = ROOT / "examples" / "helsinki-street.trace.jsonl"


def test_locate_progress_at_80_columns_keeps_every_figure(tmp_path, helsinki_osm_db):
    env = {
        k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")
    }  # the pty's size decides
    env.update(GRE_OSM__DATA_PATH=str(helsinki_osm_db), NO_COLOR="1", TERM="dumb")
    args = ["locate", str(IMAGE), "--replay", str(TRACE), "--trace-dir", str(tmp_path)]
    child = pexpect.spawn(GRE, args, env=env, encoding="utf-8", timeout=120, dimensions=(50, 80))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    progress = [x for x in child.before.replace("\r", "").splitlines() if "✓" in x]
    assert all(len(line) <= 80 for line in progress), progress  # wrapped by rich
    text = " ".join(child.before.split())
    assert re.search(
        r"✓ verify round \d+: \d+ tool call\(s\), \d+ error\(s\), \d+ finding\(s\)", text
    )
    decide = re.search(r"✓ decide (\w+): (.*?) \d+\.\d\ds", text)
    assert decide, text
    assert "…" not in decide.group(2)  # the decision's reason is whole, figures and all
    assert not re.search(r"\d…", text), text  # no figure cut


def test_chat_stage_lines_keep_their_figures():
    update = {
        "round": 2,
        "hypotheses": [{"place": "Helsinki", "country_code": "FI"}],
        "trace": [],
    }
    assert stage_line("verify", update) == "round 2: 0 tool call(s), 0 error(s); best Helsinki, FI"
    reason = "confirmed (1.00 >= 0.80) by 3 findings: " + "a long explanation " * 8
    line = stage_line("decide", {"decision": "commit", "decision_reason": reason})
    assert line == f"commit: {reason}"


def test_eval_score_tables_fit_80_columns(tmp_path):
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    res = CliRunner().invoke(
        app, ["eval", "score", str(preds), "--bootstrap", "50"], env={"COLUMNS": "80"}
    )
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "…" not in res.stdout
    for header in ("median km", "mean km", "GeoScore", "@2500", "95% CI low", "95% CI high"):
        assert header in res.stdout
    report = json.loads(
        CliRunner().invoke(app, ["eval", "score", str(preds), "--json", "--bootstrap", "0"]).stdout
    )
    assert f"{report['median_km']:,.1f}" in res.stdout and f"{report['mean_km']:,.1f}" in res.stdout


def test_tools_list_is_a_readable_list_at_80_columns():
    res = CliRunner().invoke(app, ["tools", "list"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines) and "…" not in res.stdout
    names = [line.split()[0] for line in lines if line and not line.startswith(" ")]
    assert "gazetteer.geocode" in names and "osm.find_named" in names
    specs = json.loads(CliRunner().invoke(app, ["tools", "list", "--json"]).stdout)
    assert sorted(names) == sorted(s["name"] for s in specs)  # one heading line per tool
    # each description follows its name, indented, whole words
    joined = " ".join(res.stdout.split())
    for spec in specs:
        assert " ".join(spec["description"].split()) in joined
