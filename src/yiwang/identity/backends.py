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
# Every request of a signed-in person loads the account and its person. Building that query with
# the ORM each time (two models, a join, some thirty columns) cost more than running it, so the
# statement is built once per database from the models' fields, and its row is turned into the two
# model instances with the fields' own converters (decryption included), as the ORM would.
@functools.cache
def _account_statement(alias: str) -> tuple[str, list[tuple]]:
    """The statement and, per column, the expression and its converters (backend's, then the
    field's). The converters depend on the configuration only, so every thread may use them."""
    from django.db import connections

    from yiwang.identity.models import Person

    conn = connections[alias]
    User = get_user_model()
    qn = conn.ops.quote_name
    user_pk = qn(User._meta.pk.column)
    columns, converting = [], []
    for table, model in (("u", User), ("p", Person)):
        for f in model._meta.concrete_fields:
            columns.append(f"{table}.{qn(f.column)}")
            col = f.get_col(model._meta.db_table)
            converting.append((col, conn.ops.get_db_converters(col) + col.get_db_converters(conn)))
    sql = (f"SELECT {', '.join(columns)} FROM {qn(User._meta.db_table)} u "
           f"LEFT JOIN {qn(Person._meta.db_table)} p ON p.{qn(Person._meta.get_field('user').column)} = u.{user_pk} "
           f"WHERE u.{user_pk} = %s")
    return sql, converting


def signed_in_account(user_id):
    """The account ``user_id`` with its person loaded (``None`` if there is no such account)."""
    from yiwang.identity.models import Person

    if user_id is None:
        return None
    User = get_user_model()
    sql, converting = _account_statement(connection.alias)
    with connection.cursor() as cur:
        cur.execute(sql, [user_id])
        row = cur.fetchone()
    if row is None:
        return None
    values = list(row)
    for i, (col, converters) in enumerate(converting):
        for converter in converters:
            values[i] = converter(values[i], col, connection)
    user_fields, person_fields = User._meta.concrete_fields, Person._meta.concrete_fields
    user = User.from_db(connection.alias, [f.attname for f in user_fields], values[:len(user_fields)])
    person_values = values[len(user_fields):]
    person = None
    if person_values[0] is not None:  # the person's primary key: the join found one
        person = Person.from_db(connection.alias, [f.attname for f in person_fields], person_values)
        Person._meta.get_field("user").set_cached_value(person, user)
    Person._meta.get_field("user").remote_field.set_cached_value(user, person)
    return user
