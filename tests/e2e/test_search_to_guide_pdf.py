"""A citizen searches for a service, reads its guide and downloads the guide as a PDF."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests import factories

pytestmark = pytest.mark.e2e


@pytest.fixture
def catalog(transactional_db, org_a, admin_a, admin_a2):
    factories.theme()
    food = factories.published_item(org_a, admin_a, admin_a2, theme_codes=["kaiban"],
                                    mats=factories.materials("食品经营许可申请书", "营业执照", "健康证明"))
    factories.published_item(org_a, admin_a, admin_a2, name="户外广告设置许可", aliases="",
                             result_name="户外广告设置许可证", mats=factories.materials("设置申请书"))
    return food


def test_citizen_finds_a_guide_by_material_and_downloads_its_pdf(live_server, page, catalog):
    page.goto(live_server.url + "/")
    page.get_by_label("搜索您要办的事").fill("营业执照")
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url("**/search/?q=*")

    results = page.locator(".result-name a")
    assert results.count() == 1, "only the item whose materials include 营业执照"
    results.first.click()
    page.wait_for_url(f"**/items/{catalog.item.implementation_code}/")

    assert page.get_by_role("heading", level=1).inner_text() == "食品经营许可"
    materials = page.locator("table.materials-table")
    assert materials.is_visible()
    assert "营业执照" in materials.inner_text()
    assert "健康证明" in materials.inner_text()

    with page.expect_download() as info:
        page.get_by_role("link", name="下载PDF").click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"%PDF-")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert "食品经营许可" in text and "营业执照" in text
