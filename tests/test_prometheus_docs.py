"""The documented Prometheus scrape config and alert rules pass promtool, and the alerts name
metrics the server exports."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import Client

from tests import servers

DOCS = Path(__file__).resolve().parent.parent / "docs" / "prometheus"


@pytest.fixture
def promtool() -> str:
    servers.require(bool(shutil.which("promtool")), "promtool is not installed (Debian's prometheus package)")
    return shutil.which("promtool")


def check(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_scrape_config_and_its_rules_pass_promtool(promtool, tmp_path):
    """Checked in full, rule files included; the token file it names is stood in for here."""
    config = (DOCS / "prometheus.yml").read_text()
    token_path = re.search(r"credentials_file: (\S+)", config).group(1)
    (tmp_path / "token").write_text("a-scrape-token\n")
    (tmp_path / "prometheus.yml").write_text(config.replace(token_path, str(tmp_path / "token")))
    shutil.copy(DOCS / "alerts.yml", tmp_path / "alerts.yml")
    check(promtool, "check", "config", str(tmp_path / "prometheus.yml"))


def test_the_alert_rules_pass_promtool(promtool):
    check(promtool, "check", "rules", str(DOCS / "alerts.yml"))


@pytest.mark.django_db
def test_the_alerts_name_only_metrics_the_server_exports():
    exported = set(re.findall(r"^(?:# TYPE )?(game_\w+)", Client().get("/metrics").content.decode(), re.M))
    named = set(re.findall(r"\bgame_\w+", (DOCS / "alerts.yml").read_text()))
    assert named and named <= exported, named - exported
