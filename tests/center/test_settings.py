"""The settings tree: read from the environment once, groups passed down, links to the dashboard."""

from __future__ import annotations

import pytest

from kubeprobe.center.settings import AnalysisSettings, CenterSettings, ClientSettings, Links


def test_environment_fills_the_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEPROBE_MAX_IN_FLIGHT", "3")
    monkeypatch.setenv("KUBEPROBE_RETENTION_DAYS", "2")
    monkeypatch.setenv("KUBEPROBE_ANALYSIS_VERIFY", "false")
    monkeypatch.setenv("KUBEPROBE_ANALYSIS_RERUN_TIMEOUT_SECONDS", "30")
    settings = CenterSettings()
    assert settings.dispatching.max_in_flight == 3
    assert settings.retention.raw_days == 2
    assert settings.analysis == AnalysisSettings(verify=False, rerun_timeout_seconds=30)


def test_the_analysis_group_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEPROBE_ANALYSIS_VERIFY", "false")
    assert AnalysisSettings().verify  # only CenterSettings reads the environment


def test_public_url_alone_links_notifications_to_the_dashboards_run_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBEPROBE_PUBLIC_URL", "https://probe.example.com/")
    assert CenterSettings().links.run("abc123") == "https://probe.example.com/ui/#/run/abc123"
    monkeypatch.delenv("KUBEPROBE_PUBLIC_URL")
    assert CenterSettings().links.run("abc123") == ""  # no URL people could open: no link
    assert Links(None).run("abc123") == ""


def test_the_cli_reads_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEPROBE_URL", "http://center:9000")
    monkeypatch.setenv("KUBEPROBE_TOKEN", "kp_secret")
    client = ClientSettings()
    assert (client.url, client.token) == ("http://center:9000", "kp_secret")


def test_the_chatops_group_names_delegates_and_ignores_the_bots_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBEPROBE_CHATOPS_DELEGATES", '["chatops-operator", "chatops-viewer"]')
    monkeypatch.setenv("KUBEPROBE_CHATOPS_CENTER_URL", "http://127.0.0.1:8080")  # the bot's, not ours
    monkeypatch.setenv("KUBEPROBE_CHATOPS_TOKEN_OPERATOR", "kp_bot")
    assert CenterSettings().chatops.delegates == ["chatops-operator", "chatops-viewer"]
