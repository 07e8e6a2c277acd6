"""Signing staff in for tests: the session as it is after the password and the second factor."""

from __future__ import annotations

from yiwang.identity import totp


def sign_in_staff(client, user):
    """``force_login`` plus the second factor passed, as /accounts/totp/ leaves the session."""
    client.force_login(user)
    session = client.session
    session[totp.SESSION_OK] = True
    session.save()
    return client


def give_authenticator(user, secret: str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP") -> str:
    """Set up (and confirm) a second factor for ``user`` with a known secret."""
    from django.utils import timezone

    security = totp.security_of(user)
    security.totp_secret = secret
    security.totp_confirmed_at = timezone.now()
    security.totp_last_step = 0
    security.save()
    return secret
