"""The checks `yiwang serve` makes before serving in production."""

from __future__ import annotations

import base64
import secrets

import pytest
from django.contrib.auth import get_user_model

from yiwang.core.startup import check_production_safety

pytestmark = pytest.mark.django_db


def test_outside_production_nothing_is_checked(settings):
    settings.PRODUCTION = False
    assert check_production_safety() == ""


def test_production_refuses_demo_accounts_and_a_missing_seal_key(settings, monkeypatch):
    settings.PRODUCTION = True
    monkeypatch.delenv("YIWANG_SEAL_KEK", raising=False)
    settings.YIWANG_SEAL_KEK = ""
    assert "YIWANG_SEAL_KEK" in check_production_safety()  # refused before the first sealed document

    settings.YIWANG_SEAL_KEK = base64.b64encode(secrets.token_bytes(32)).decode()
    assert check_production_safety() == ""

    get_user_model().objects.create_user("citizen", password="x" * 12)
    assert "演示账号" in check_production_safety()
