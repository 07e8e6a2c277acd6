"""证照共享 list pages read a fixed number of queries however many rows they show (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from tests.identity.helpers_totp import sign_in_staff
from yiwang.certificates import grants, services
from yiwang.identity.models import Role

pytestmark = pytest.mark.django_db


def queries(client, url: str) -> int:
    client.get(url)  # the first request after signing in also touches the session
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def share(holder, cert, org):
    return grants.grant(holder.user, None, cert, grantee_kind="organization", organization=org, purpose="低保审核")


def test_wallet_and_shared_lists_do_not_grow_with_rows(client, disability_type, holder, approver, org_b):
    first = services.issue(disability_type, holder=holder, user=approver, data={"kind": "肢体残疾", "grade": "二级"})
    share(holder, first, org_b)
    clerk = factories.staff("shared_clerk_b", org_b, Role.REVIEWER)
    client.force_login(holder.user)
    wallet_one, detail_one = queries(client, "/my/certificates/"), queries(client, f"/my/certificates/{first.pk}/")
    sign_in_staff(client, clerk)
    grants.open_for_staff(clerk, first.grants.get().pk, reason="核对")
    shared_one = queries(client, "/office/certificates/shared/")
    for kind in ("视力残疾", "听力残疾", "言语残疾"):
        cert = services.issue(disability_type, holder=holder, user=approver, data={"kind": kind, "grade": "三级"})
        share(holder, cert, org_b)
        g = share(holder, first, org_b)
        grants.open_for_staff(clerk, g.pk, reason="核对")
    assert queries(client, "/office/certificates/shared/") == shared_one
    client.force_login(holder.user)
    assert queries(client, "/my/certificates/") == wallet_one
    assert queries(client, f"/my/certificates/{first.pk}/") == detail_one
