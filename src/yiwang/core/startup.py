"""Checks made before serving."""

from __future__ import annotations

from django.conf import settings


def check_production_safety() -> str:
    """A reason not to start, or an empty string."""
    if not settings.PRODUCTION:
        return ""
    from django.contrib.auth import get_user_model

    from yiwang.demo_accounts import DEMO_USERNAMES

    if get_user_model().objects.filter(username__in=DEMO_USERNAMES).exists():
        return ("生产环境中存在演示账号，拒绝启动；请先删除演示账号 / demo accounts exist in production: "
                "remove them before serving")
    from django.core.exceptions import ImproperlyConfigured

    from yiwang.seals import keystore

    try:  # the key that opens the seals' private keys: better refused now than at the first document
        keystore.kek()
    except ImproperlyConfigured as exc:
        return str(exc)
    return ""
