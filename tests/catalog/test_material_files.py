"""Blank forms and samples: public once published, staff-only while in draft."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests import factories
from tests.identity.helpers_totp import sign_in_staff
from yiwang.catalog import services

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n% blank form\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _item_with_form(org, user):
    mats = factories.materials("食品经营许可申请书")
    mats[0]["blank_form"] = SimpleUploadedFile("申请书.pdf", PDF, content_type="application/pdf")
    return services.create_item(user, organization=org, data=factories.item_data(), materials=mats)


def test_draft_form_is_hidden_from_the_public_and_other_departments(client, org_a, admin_a, admin_b):
    draft = _item_with_form(org_a, admin_a)
    url = "/media/" + draft.materials.get().blank_form.name
    assert client.get(url).status_code == 404
    sign_in_staff(client, admin_b)
    assert client.get(url).status_code == 404
    sign_in_staff(client, admin_a)
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF


def test_published_form_downloads_from_the_guide(client, org_a, admin_a, admin_a2):
    draft = _item_with_form(org_a, admin_a)
    v = services.review_version(admin_a2, services.submit_version(admin_a, draft), approve=True)
    services.publish_version(admin_a2, v)
    guide = client.get(f"/items/{draft.item.implementation_code}/").content.decode()
    url = draft.materials.get().blank_form.url
    assert url in guide
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]


def test_paths_outside_the_materials_folder_are_refused(client):
    assert client.get("/media/../settings.py").status_code == 404
    assert client.get("/media/catalog/materials/../../x").status_code == 404
