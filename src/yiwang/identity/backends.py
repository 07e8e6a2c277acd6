"""Authentication backend: one sign-in field for a username, a citizen ID number or a mobile number."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.utils import timezone

from yiwang.core.crypto import normalise_id_number, normalise_phone
from yiwang.core.fields import blind_match

ID_NUMBER_RE = re.compile(r"^[0-9]{17}[0-9X]$")
MOBILE_RE = re.compile(r"^1[3-9][0-9]{9}$")


def identifier_kind(identifier: str) -> str:
    """``"mobile"``, ``"id_number"`` or ``"username"``: what a typed sign-in name looks like."""
    text = (identifier or "").strip()
    if MOBILE_RE.match(normalise_phone(text)) and re.fullmatch(r"[0-9+\- ]+", text):
        return "mobile"
    if ID_NUMBER_RE.match(normalise_id_number(text)):
        return "id_number"
    return "username"


def find_user(identifier: str):
    """The user a sign-in name refers to, or ``None``.

    ID numbers and mobile numbers are found through the blind index of ``Person``; a name that
    looks like one but matches no person is still tried as a username (staff usernames are
    chosen by administrators and may be digits).
    """
    from yiwang.identity.models import Person

    text = (identifier or "").strip()
    if not text:
        return None
    User = get_user_model()
    kind = identifier_kind(text)
    if kind != "username":
        person = Person.objects.filter(blind_match(Person, kind, text)).select_related("user").first()
        if person is not None:
            return person.user
    return User._default_manager.filter(**{User.USERNAME_FIELD: text}).first()


def is_locked(user) -> bool:
    from yiwang.identity.models import AccountSecurity

    locked_until = AccountSecurity.objects.filter(user=user).values_list("locked_until", flat=True).first()
    return bool(locked_until and locked_until > timezone.now())


class IdentifierBackend(ModelBackend):
    """Password check for a username, an ID number (``x`` or ``X``) or a mobile number.

    A locked account (``AccountSecurity.locked_until`` in the future) is refused even with the
    right password. Permissions come from :class:`ModelBackend`.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if not username or password is None:
            return None
        user = find_user(username)
        if user is None:
            # Hash anyway, so a missing account takes as long as a wrong password.
            get_user_model()().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user) and not is_locked(user):
            return user
        return None

    def get_user(self, user_id):
        """The signed-in account, with its natural person in the same query (citizens' pages read
        it on almost every request; for staff the join finds none and nothing more is asked)."""
        User = get_user_model()
        try:
            user = User._default_manager.select_related("person").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
