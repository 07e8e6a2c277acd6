"""Webhook targets on internal networks are refused unless the operator allows their network."""

from __future__ import annotations

from yiwang.exchange import webhooks


def test_a_target_resolving_to_a_private_address_is_refused(settings):
    settings.YIWANG_WEBHOOKS_ALLOW_HTTP_LOOPBACK = False
    settings.YIWANG_WEBHOOKS_ALLOWED_NETWORKS = []
    assert "internal" in webhooks.address_problem("https://10.1.2.3/hook")
    assert "internal" in webhooks.address_problem("https://127.0.0.1/hook")
    assert "internal" in webhooks.address_problem("https://169.254.169.254/latest/meta-data")


def test_an_allowed_government_network_and_loopback_in_development_pass(settings):
    settings.YIWANG_WEBHOOKS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    settings.YIWANG_WEBHOOKS_ALLOW_HTTP_LOOPBACK = True
    assert webhooks.address_problem("https://10.1.2.3/hook") is None
    assert webhooks.address_problem("http://127.0.0.1:9000/hook") is None
    assert "internal" in webhooks.address_problem("https://192.168.1.5/hook")


def test_an_unresolvable_host_is_reported():
    assert "resolve" in webhooks.address_problem("https://no-such-host.invalid/hook")
