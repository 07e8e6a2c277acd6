"""Sessions in the database (``SESSION_ENGINE``), read with one plain query.

Every signed-in request reads its session. Django's database store does it through the ORM; this
store reads the one column it needs with a parameterised query of its own and keeps everything
else (saving, rotation, expiry, ``clearsessions``) as Django does it. docs/cases.md, "How a
submission stays cheap".
"""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def load(self) -> dict:
        key = self.session_key
        if key:
            model = self.model
            connection = connections[router.db_for_read(model)]
            with connection.cursor() as cur:
                cur.execute(f"SELECT session_data FROM {connection.ops.quote_name(model._meta.db_table)} "
                            "WHERE session_key = %s AND expire_date > %s",
                            [key, connection.ops.adapt_datetimefield_value(timezone.now())])
                row = cur.fetchone()
            if row is not None:
                return self.decode(row[0])
        self._session_key = None  # unknown or expired: a new key when the session is next saved
        return {}
