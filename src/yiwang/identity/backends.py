"""Authentication backend: one sign-in field for a username, a citizen ID number or a mobile number."""

from __future__ import annotations

import functools
import re

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.utils import timezone

from yiwang.core.crypto import normalise_id_number, normalise_phone
from yiwang.core.fields import blind_match
from yiwang.core.memo import Memo

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
        """The signed-in account, with its natural person (citizens' pages read it on almost every
        request; for staff there is none, and nothing more is asked to find that out)."""
        user = signed_in_account(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


# ----------------------------------------------------------------------------- the signed-in account
# Every request of a signed-in person loads the account and its person. On PostgreSQL the rows
# read are kept per worker process, keyed by the rows' versions (the system column xmin, which
# every UPDATE changes); one narrow query per request reads the versions, and the account is
# rebuilt as fresh model instances from the kept values. So a password change, a deactivation or
# a new assurance level, made by any process, is seen on the next request. Rows written by the
# current transaction are never kept or served (an UPDATE in the same transaction keeps the xmin).
# No model is watched: a save changes the version, and clearing the memo on every sign-in (which
# saves last_login) would only make the others read again.
ACCOUNTS = Memo("identity.accounts", ttl=60, size=4096)


def _load_account(user_id):
    User = get_user_model()
    return User._default_manager.select_related("person").filter(pk=user_id).first()


@functools.cache
def _versions_sql() -> str:
    from yiwang.identity.models import Person

    User = get_user_model()
    qn = connection.ops.quote_name
    user_pk = qn(User._meta.pk.column)
    return (f"SELECT u.xmin::text, p.xmin::text, "
            f"(pg_current_xact_id_if_assigned()::text::bigint %% 4294967296)::text "
            f"FROM {qn(User._meta.db_table)} u LEFT JOIN {qn(Person._meta.db_table)} p "
            f"ON p.{qn(Person._meta.get_field('user').column)} = u.{user_pk} WHERE u.{user_pk} = %s")


def _kept(user) -> tuple:
    """The values of the account and its person (None for staff), as read."""
    from yiwang.identity.models import Person

    person = getattr(user, "person", None) if _person_rel().is_cached(user) else None
    values = tuple(getattr(user, f.attname) for f in user._meta.concrete_fields)
    return values, (tuple(getattr(person, f.attname) for f in Person._meta.concrete_fields)
                    if person is not None else None)


def _person_rel():
    from yiwang.identity.models import Person

    return Person._meta.get_field("user").remote_field


def _rebuilt(kept: tuple):
    """Fresh instances from kept values: what a request changes on them stays in that request."""
    from yiwang.identity.models import Person

    User = get_user_model()
    values, person_values = kept
    user = User.from_db(connection.alias, [f.attname for f in User._meta.concrete_fields], values)
    person = None
    if person_values is not None:
        person = Person.from_db(connection.alias, [f.attname for f in Person._meta.concrete_fields], person_values)
        Person._meta.get_field("user").set_cached_value(person, user)
    _person_rel().set_cached_value(user, person)
    return user


def signed_in_account(user_id):
    """The account ``user_id`` with its person loaded (``None`` if there is no such account)."""
    if connection.vendor != "postgresql" or user_id is None:
        return _load_account(user_id)
    with connection.cursor() as cur:
        cur.execute(_versions_sql(), [user_id])
        row = cur.fetchone()
    if row is None:
        return None
    user_version, person_version, own = row
    if own is not None and own in (user_version, person_version):
        return _load_account(user_id)  # changed by this very transaction: read it as it is now
    kept = ACCOUNTS.get((user_id, user_version, person_version), lambda: _found(user_id))
    return _rebuilt(kept) if kept is not None else None


def _found(user_id):
    user = _load_account(user_id)
    return _kept(user) if user is not None else None
