"""The deployment files against the code: yamllint, and every command, variable and port they use is one the
code reads, parses and serves (no image registry is reachable here, so the files are checked, not deployed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from mediaserver.config import Config as MediaConfig
from signaling_gateway.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
K8S = sorted((DEPLOY / "k8s").glob("*.yaml"))
YAML_FILES = [COMPOSE, *K8S, *sorted((ROOT / ".github" / "workflows").glob("*.yml"))]
LINT = YamlLintConfig("extends: default\nrules:\n  line-length: {max: 140}\n  document-start: disable\n"
                      "  truthy: {check-keys: false}\n")
ENTRY_POINTS = {"mediaserver": ROOT / "mediaserver" / "config.py",
                "signaling_gateway": ROOT / "signaling_gateway" / "config.py"}
# Values for the compose file's ${NAME:?...} variables, as an operator would give them.
OPERATOR = {"PUBLIC_IP": "203.0.113.7", "SECRET_KEY": "k" * 32, "HOST_PASSWORD": "pw", "TURN_SECRET": "t" * 16,
            "PUBLIC_URL": "https://meet.example.com"}


def env_names_read_by(module: str) -> set[str]:
    """The environment variables a process's configuration reads (upper-case string literals there)."""
    names = set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', ENTRY_POINTS[module].read_text()))
    if module == "signaling_gateway":
        names |= {"LOG_LEVEL"}  # read by its __main__ before the settings
    return names


def substitute(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3)
        return OPERATOR.get(name, default or "")

    return re.sub(r"\$\{([A-Z_]+)(:[?-]([^}]*))?\}", one, value)


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def module_of(command: list[str]) -> str:
    assert command[:2] == ["python", "-m"] and command[2] in ENTRY_POINTS, command
    return command[2]


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_yamllint_is_clean(path: Path) -> None:
    problems = list(linter.run(path.read_text(), LINT, str(path)))
    assert not problems, "\n".join(f"{path.name}:{p.line}:{p.column} {p.message}" for p in problems)


def compose_project_services() -> dict[str, tuple[str, dict[str, str]]]:
    """The services built from our image: name -> (entry point, environment with the operator's values)."""
    found = {}
    for name, service in compose()["services"].items():
        if "build" not in service:
            continue
        env = {key: substitute(str(value)) for key, value in service.get("environment", {}).items()}
        found[name] = (module_of(service["command"]), env)
    return found


def test_compose_runs_two_media_servers_and_a_gateway_with_settings_the_code_accepts() -> None:
    services = compose_project_services()
    media = {name: env for name, (module, env) in services.items() if module == "mediaserver"}
    gateways = {name: env for name, (module, env) in services.items() if module == "signaling_gateway"}
    assert len(media) == 2 and len(gateways) == 1
    for name, (module, env) in services.items():
        unknown = set(env) - env_names_read_by(module)
        assert not unknown, f"{name} sets variables {module} never reads: {unknown}"
    configs = {name: media_config(env) for name, env in media.items()}
    ports = [(c.udp_port, c.control_port, c.metrics_port) for c in configs.values()]
    assert len({p for triple in ports for p in triple}) == 6, f"two host-network media servers share a port: {ports}"
    assert all(c.control_host == "127.0.0.1" for c in configs.values()), "the control port must stay private"
    for name, config in configs.items():  # the drain (SIGTERM) ends before compose's kill
        grace = compose()["services"][name]["stop_grace_period"]
        assert int(grace.rstrip("s")) > config.drain_timeout, f"{name}: {grace} cuts the drain short"
    (gateway_env,) = gateways.values()
    settings = Settings.from_env(gateway_env)
    # The gateway finds the media servers in the registry they heart-beat into: the same Redis, distinct ids.
    assert settings.media_from_registry
    assert settings.redis_url is not None and urlsplit(settings.redis_url).port == redis_port()
    assert {c.redis_url for c in configs.values()} == {settings.redis_url}
    assert len({c.node_id for c in configs.values()}) == 2 and all(c.node_id for c in configs.values())


def media_config(env: dict[str, str]) -> MediaConfig:
    import os
    from unittest import mock

    with mock.patch.dict(os.environ, env, clear=True):
        return MediaConfig.from_args([])


def redis_port() -> int:
    command = compose()["services"]["redis"]["command"]
    return int(command[command.index("--port") + 1])


def test_compose_health_checks_ask_the_ports_the_services_serve() -> None:
    for name, (module, env) in compose_project_services().items():
        test = " ".join(compose()["services"][name]["healthcheck"]["test"])
        port = int(re.search(r"127\.0\.0\.1:(\d+)/healthz", test).group(1))  # type: ignore[union-attr]
        expected = media_config(env).metrics_port if module == "mediaserver" else Settings.from_env(env).http_port
        assert port == expected, f"{name}'s health check asks port {port}, it serves {expected}"
    services = compose()["services"]
    assert all(s.get("restart") == "unless-stopped" for s in services.values())
    assert all("healthcheck" in s for s in services.values())
    assert all(str(s.get("user", "0")).split(":")[0] not in ("0", "root") for s in services.values()), "non-root"


def k8s_documents() -> list[dict[str, Any]]:
    return [doc for path in K8S for doc in yaml.safe_load_all(path.read_text()) if doc]


def containers() -> list[dict[str, Any]]:
    return [c for doc in k8s_documents() if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
            for c in doc["spec"]["template"]["spec"]["containers"]]


def test_k8s_containers_use_variables_and_ports_the_code_reads() -> None:
    ours = [c for c in containers() if c["image"].startswith("meetings")]
    assert {module_of(c["command"]) for c in ours} == set(ENTRY_POINTS)
    for container in ours:
        module = module_of(container["command"])
        env = {e["name"]: e.get("value", "") for e in container["env"]}
        unknown = set(env) - env_names_read_by(module)
        assert not unknown, f"{container['name']} sets variables {module} never reads: {unknown}"
        served = ({int(env["MEDIA_UDP_PORT"]), int(env["MEDIA_CONTROL_PORT"]), int(env["MEDIA_METRICS_PORT"])}
                  if module == "mediaserver" else {int(env["HTTP_PORT"])})
        declared = {p["containerPort"] for p in container["ports"]}
        assert declared == served, f"{container['name']} declares {declared}, serves {served}"
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["port"] in served


def test_k8s_media_servers_use_host_networking_and_register_where_the_gateway_looks() -> None:
    docs = {doc["metadata"]["name"]: doc for doc in k8s_documents() if doc["kind"] != "Service"}
    media = docs["media"]["spec"]
    assert media["template"]["spec"]["hostNetwork"] is True
    assert media["template"]["spec"]["terminationGracePeriodSeconds"] > MediaConfig.drain_timeout
    gateway_env = {e["name"]: e for e in docs["gateway"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    media_env = {e["name"]: e for e in media["template"]["spec"]["containers"][0]["env"]}
    assert gateway_env["MEDIA_SERVER_URL"]["value"] == "redis"
    assert media_env["REDIS_URL"]["value"] == gateway_env["REDIS_URL"]["value"]
    assert media_env["MEDIA_NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"  # one id per pod
    assert all(doc["spec"]["template"]["spec"].get("securityContext", {}).get("runAsNonRoot") for doc in docs.values())


def test_the_image_exposes_the_ports_its_environment_sets() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    env = dict(re.findall(r"(MEDIA_[A-Z_]+)=(\S+)", dockerfile))
    exposed = set(re.findall(r"(\d+)/(udp|tcp)", dockerfile.split("EXPOSE", 1)[1].splitlines()[0]))
    assert exposed == {(env["MEDIA_UDP_PORT"], "udp"), (env["MEDIA_CONTROL_PORT"], "tcp"),
                       (env["MEDIA_METRICS_PORT"], "tcp")}
    assert "COPY web_client" in dockerfile and "USER media" in dockerfile
