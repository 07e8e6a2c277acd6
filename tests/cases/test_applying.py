"""The item an application is made on is kept per process, and every change to it is seen at once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.cases.conftest import form_for, pdf
from yiwang.cases import applying, services, workflow
from yiwang.cases.models import ItemProcess, ProcessDefinition
from yiwang.catalog import services as catalog
from yiwang.catalog.models import ServiceItem

pytestmark = pytest.mark.django_db

# The default promised process with its review step renamed (审查 → 审核): a different definition.
REVISED = workflow.default_definition("promised").replace("name=\"审查\"".encode(), "name=\"审核\"".encode())


def test_the_snapshot_is_read_once_then_checked_with_one_query(item):
    first = applying.published_item(item.implementation_code)
    assert first.published_version.name == item.published_version.name
    with CaptureQueriesContext(connection) as q:
        again = applying.published_item(item.implementation_code)
        materials = list(again.published_version.materials.all())
    assert again is first
    assert len(q.captured_queries) == 1  # the check; the materials come with the snapshot
    assert [m.name for m in materials] == [m.name for m in item.published_version.materials.order_by("order", "pk")]


def test_unknown_retired_or_unpublished_items_are_none(item, admin_a):
    assert applying.published_item("0" * 31) is None
    assert applying.published_item(item.implementation_code) is not None
    catalog.retire_item(admin_a, item, reason="职能调整")
    assert applying.published_item(item.implementation_code) is None


def test_a_new_published_version_is_used_on_the_next_request(item, admin_a, admin_a2):
    before = applying.published_item(item.implementation_code)
    draft = catalog.start_revision(admin_a, item)
    draft = catalog.update_draft(admin_a, draft, data={"name": "食品经营许可（新版）"})
    draft = catalog.submit_version(admin_a, draft)
    draft = catalog.review_version(admin_a2, draft, approve=True, opinion="同意")
    catalog.publish_version(admin_a2, draft)
    after = applying.published_item(item.implementation_code)
    assert after.published_version.pk == draft.pk != before.published_version.pk
    assert after.published_version.name == "食品经营许可（新版）"


def test_a_change_written_by_another_process_is_seen(item):
    """Another worker's writes send no signal here: the check row finds them all the same."""
    applying.published_item(item.implementation_code)
    ServiceItem.objects.filter(pk=item.pk).update(state=ServiceItem.State.RETIRED)  # no signal
    assert applying.published_item(item.implementation_code) is None
    ServiceItem.objects.filter(pk=item.pk).update(state=ServiceItem.State.ACTIVE)
    default = applying.published_item(item.implementation_code)._process
    definition = services.store_definition(REVISED)
    ItemProcess.objects.bulk_create([ItemProcess(item=item, definition=definition)])  # no signal either
    bound = applying.published_item(item.implementation_code)
    assert bound._process.pk == definition.pk != default.pk


def test_a_submission_after_a_new_process_starts_on_it(item, applicant, admin_a):
    services.submit_application(applicant, item=applying.published_item(item.implementation_code),
                                form_data=form_for(applicant),
                                files={m.pk: pdf() for m in item.published_version.materials.all()})
    services.set_item_process(admin_a, item, REVISED)
    case = services.submit_application(applicant, item=applying.published_item(item.implementation_code),
                                       form_data=form_for(applicant),
                                       files={m.pk: pdf() for m in item.published_version.materials.all()})
    assert case.process.sha256 == ProcessDefinition.objects.get(xml=REVISED.decode()).sha256
    assert case.steps.get(state="open").key == "pre_review"
