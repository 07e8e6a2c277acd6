"""Catalog administrators set an item's application form and its BPMN process."""

from __future__ import annotations

import json

import pytest

from tests.cases.conftest import act, submit
from tests.identity.helpers_totp import sign_in_staff
from yiwang.applications import formschema
from yiwang.applications.models import ItemForm
from yiwang.applications.selectors import form_definition
from yiwang.cases import services, workflow
from yiwang.cases.models import Case
from yiwang.catalog import services as catalog_services

pytestmark = pytest.mark.django_db

FORM = {
    "schema": {"type": "object", "required": ["applicant_name", "shop_name", "seats"], "properties": {
        "applicant_name": {"type": "string", "title": "申请人姓名", "maxLength": 60},
        "shop_name": {"type": "string", "title": "店铺名称", "maxLength": 60},
        "seats": {"type": "integer", "title": "餐位数", "minimum": 1, "maximum": 500},
    }},
    "layout": [{"title": "经营信息", "fields": [{"name": "applicant_name", "prefill": "applicant.name"},
                                              {"name": "shop_name"}, {"name": "seats"}]}],
}


def test_a_revision_carries_its_own_form_and_applicants_get_it_once_published(
        client, applicant, item, admin_a, admin_a2, people):
    draft = catalog_services.start_revision(admin_a, item)
    sign_in_staff(client, admin_a)
    url = f"/office/items/{item.implementation_code}/versions/{draft.number}/form/"
    bad = client.post(url, {"definition": "{not json"})
    assert bad.status_code == 400 and "JSON" in bad.content.decode()
    wrong = client.post(url, {"definition": json.dumps({"schema": {"type": "object", "properties": {}},
                                                        "layout": [{"title": "x", "fields": [{"name": "nope"}]}]})})
    assert wrong.status_code == 400 and not ItemForm.objects.exists()
    assert client.post(url, {"definition": json.dumps(FORM, ensure_ascii=False)}).status_code == 302
    assert "店铺名称" in client.get(url).content.decode()  # the preview

    # the published version still has the default form until the revision is published
    assert "店铺名称" not in formschema.render(form_definition(item.published_version, "person"))
    v = catalog_services.submit_version(admin_a, draft)
    v = catalog_services.review_version(admin_a2, v, approve=True)
    catalog_services.publish_version(admin_a2, v)
    item.refresh_from_db()
    client.force_login(applicant)
    assert "店铺名称" in client.get(f"/items/{item.implementation_code}/apply/").content.decode()
    case = submit(applicant, item, form_data={"applicant_name": "王小明", "shop_name": "江滨面馆", "seats": 24})
    assert {"title": "餐位数", "value": "24"} in services.form_values(case)
    # a later revision starts from the published form
    again = catalog_services.start_revision(admin_a, item)
    assert ItemForm.objects.get(version=again).definition == FORM


def test_a_published_versions_form_cannot_change(client, item, admin_a, people):
    sign_in_staff(client, admin_a)
    url = f"/office/items/{item.implementation_code}/versions/{item.published_version.number}/form/"
    response = client.post(url, {"definition": json.dumps(FORM)})
    assert response.status_code == 409 and not ItemForm.objects.exists()


def test_another_departments_administrator_gets_404(client, item, admin_b, people):
    sign_in_staff(client, admin_b)
    assert client.get(f"/office/items/{item.implementation_code}/versions/1/form/").status_code == 404
    assert client.get(f"/office/items/{item.implementation_code}/process/").status_code == 404


def test_uploading_a_process_changes_new_cases_only(client, applicant, item, admin_a, people):
    old = submit(applicant, item)
    xml = workflow.default_definition("promised").replace(b'name="\xe5\xae\xa1\xe6\x9f\xa5"', b'name="\xe5\xae\xa1\xe6\xa0\xb8"')
    assert xml != workflow.default_definition("promised")
    sign_in_staff(client, admin_a)
    page = client.get(f"/office/items/{item.implementation_code}/process/").content.decode()
    assert "默认承诺件流程" in page and "审查" in page
    from django.core.files.uploadedfile import SimpleUploadedFile

    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    refused = client.post(f"/office/items/{item.implementation_code}/process/",
                          {"bpmn": SimpleUploadedFile("p.bpmn", bomb)})
    assert refused.status_code == 400
    ok = client.post(f"/office/items/{item.implementation_code}/process/", {"bpmn": SimpleUploadedFile("p.bpmn", xml)})
    assert ok.status_code == 302
    new = submit(applicant, item)
    assert new.process_id != old.process_id
    new = act(people["clerk"], new, "pre_review", "accept")
    assert new.steps.get(state="open").name == "审核"
    old = act(people["clerk"], old, "pre_review", "accept")
    assert old.steps.get(state="open").name == "审查"  # the case in flight keeps its own process
    assert Case.objects.count() == 2
