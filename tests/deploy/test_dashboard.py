"""deploy/grafana/dashboard.json against the code: every metric its PromQL uses is exported by a real gateway or
media server, and every metric they export is documented (signaling_gateway/README.md, docs/architecture.md)."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.gateway_process import GatewayProcess, free_tcp_port, start_gateway_process

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboard.json"
GATEWAY_DOC = ROOT / "signaling_gateway" / "README.md"
MEDIA_DOC = ROOT / "docs" / "architecture.md"
PASSWORD = "dashboard-test"
# PromQL words that look like metric names.
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
                      "unless", "inf", "nan"})


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels, keywords or Grafana variables)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings (label values)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors ($__rate_interval, 5m)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)  # label lists
    names = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w(])(?!\s*\()", text):
        if match.group(1).lower() not in KEYWORDS:
            names.add(match.group(1))
    return names


def test_the_extractor_keeps_metrics_and_drops_the_rest() -> None:
    expr = ('histogram_quantile(0.95, sum by (le, direction) (rate(x_seconds_bucket{le="0.5", a=~"b|c"}'
            '[$__rate_interval]))) / on (instance) group_left clamp_min(sum(y_total offset 5m), 1) > bool 0')
    assert metric_names(expr) == {"x_seconds_bucket", "y_total"}


def dashboard_exprs() -> list[tuple[str, str]]:
    found = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            walk(panel.get("panels", []))
            for target in panel.get("targets", []):
                found.append((panel["title"], target["expr"]))

    walk(json.loads(DASHBOARD.read_text())["panels"])
    return found


def test_the_dashboard_has_the_three_groups_and_a_query_on_every_panel() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Call quality", "User experience", "Infrastructure"]
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]
    success = [expr for title, expr in dashboard_exprs() if title == "Connection success rate"]
    assert success and "gateway_joins_reached_media_total" in success[0] and "/" in success[0]


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def sample_names(text: str) -> set[str]:
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def family_names(text: str) -> set[str]:
    # A counter's family is named without _total; PromQL and the docs use the sample's name.
    return {f"{f.name}_total" if f.type == "counter" else f.name for f in text_string_to_metric_families(text)}


def create_meeting(gateway: GatewayProcess) -> None:
    """Logged in as the host, one meeting: the media server then has a room, and its per-room series."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = urllib.parse.urlencode({"username": "host", "password": PASSWORD}).encode()
    opener.open(gateway.base_url + "/login", data=login, timeout=10).close()
    request = urllib.request.Request(gateway.base_url + "/api/meetings", data=b"", method="POST",
                                     headers={"Origin": gateway.base_url})
    with opener.open(request, timeout=10) as response:
        assert response.status == 201


@pytest.fixture(scope="module")
def scraped() -> Iterator[dict[str, str]]:
    metrics_port = free_tcp_port()
    gateway = start_gateway_process({"HOST_PASSWORD": PASSWORD, "MEDIA_METRICS_PORT": str(metrics_port)})
    try:
        create_meeting(gateway)
        yield {"gateway": scrape(gateway.base_url + "/metrics"),
               "media": scrape(f"http://127.0.0.1:{metrics_port}/metrics")}
    finally:
        gateway.stop()


def test_every_metric_the_dashboard_uses_is_exported(scraped: dict[str, str]) -> None:
    exported = sample_names(scraped["gateway"]) | sample_names(scraped["media"])
    used = {name: title for title, expr in dashboard_exprs() for name in metric_names(expr)}
    assert len(used) > 20  # the extractor found the dashboard's metrics
    missing = {name: title for name, title in used.items() if name not in exported}
    assert not missing, f"the dashboard uses series nobody exports: {missing}"


def documented(path: Path) -> list[re.Pattern[str]]:
    """Backticked metric names in the doc's metrics table (`*` stands for any part of a name)."""
    table = path.read_text().split("<!-- metrics -->", 2)[1]
    names = re.findall(r"`((?:gateway|mediaserver|process|python)_[a-z0-9_*]*)`", table)
    return [re.compile(re.escape(name).replace(r"\*", "[a-z0-9_]+") + "$") for name in names]


@pytest.mark.parametrize(("process", "doc"), [("gateway", GATEWAY_DOC), ("media", MEDIA_DOC)])
def test_every_exported_metric_is_documented(scraped: dict[str, str], process: str, doc: Path) -> None:
    patterns = documented(doc)
    undocumented = sorted(n for n in family_names(scraped[process]) if not any(p.match(n) for p in patterns))
    assert not undocumented, f"add these to the metrics table in {doc.relative_to(ROOT)}: {undocumented}"
