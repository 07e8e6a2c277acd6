"""The guide as a PDF: the published version, readable text, an embedded Chinese font."""

from __future__ import annotations

import io
from urllib.parse import unquote

import pytest
from django.core.cache import cache
from pypdf import PdfReader

from tests import factories
from yiwang.catalog import pdf, services


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _pdf(client, version):
    response = client.get(f"/items/{version.item.implementation_code}/guide.pdf")
    assert response.status_code == 200
    return response


def _text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "".join(page.extract_text() for page in reader.pages)


def test_guide_pdf_is_a_pdf_download_with_a_file_name(client, published):
    response = _pdf(client, published)
    assert response["Content-Type"] == "application/pdf"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f'filename="guide-{published.item.implementation_code}-v1.pdf"' in disposition
    assert "食品经营许可" in unquote(disposition.split("filename*=UTF-8''")[1])
    assert response.content.startswith(b"%PDF-")


def test_guide_pdf_text_has_name_materials_time_limits_and_footer(client, published):
    text = _text(_pdf(client, published).content)
    assert "食品经营许可" in text
    assert "申请材料" in text and "食品经营许可申请书" in text and "营业执照" in text
    assert "承诺 10 个工作日" in text and "20 个工作日" in text
    assert published.item.implementation_code in text
    assert "第 1 页 / 共" in text


def test_guide_pdf_title_metadata_is_the_item_name(client, published):
    reader = PdfReader(io.BytesIO(_pdf(client, published).content))
    assert reader.metadata.title == "食品经营许可"


def test_guide_pdf_embeds_a_truetype_chinese_font(client, published):
    if pdf.font_name() != pdf.FONT_NAME:
        pytest.skip("no Chinese TrueType font on this machine (install fonts-wqy-zenhei)")
    assert b"/FontFile2" in _pdf(client, published).content


def test_guide_pdf_shows_the_published_version_not_the_draft(client, published, admin_a):
    draft = services.start_revision(admin_a, published.item)
    services.update_draft(admin_a, draft, data={"name": "草稿中的新名称"})
    text = _text(_pdf(client, published).content)
    assert "食品经营许可" in text and "草稿中的新名称" not in text


def test_guide_pdf_is_cached_per_published_version(client, published, admin_a, admin_a2):
    first = _pdf(client, published).content
    assert _pdf(client, published).content == first
    draft = services.start_revision(admin_a, published.item)
    draft = services.update_draft(admin_a, draft, data={"name": "食品经营许可（新版）"})
    draft = services.submit_version(admin_a, draft)
    draft = services.review_version(admin_a2, draft, approve=True)
    services.publish_version(admin_a2, draft)
    text = _text(_pdf(client, published).content)
    assert "食品经营许可（新版）" in text and "第 2 版" in text


def test_guide_pdf_of_a_long_guide_spans_pages_with_numbers(client, org_a, admin_a, admin_a2):
    mats = factories.materials(*[f"证明材料第{i}项" for i in range(1, 41)])
    version = factories.published_item(org_a, admin_a, admin_a2, mats=mats, name="材料很多的事项")
    reader = PdfReader(io.BytesIO(_pdf(client, version).content))
    assert len(reader.pages) > 1
    total = len(reader.pages)
    assert f"第 {total} 页 / 共 {total} 页" in reader.pages[-1].extract_text()


def test_guide_pdf_of_unknown_item_is_404(client, db):
    assert client.get("/items/NOPE/guide.pdf").status_code == 404


def test_without_a_chinese_truetype_font_the_pdf_falls_back_and_warns(client, published, monkeypatch, settings,
                                                                      caplog):
    settings.YIWANG_PDF_FONT = "/nonexistent/font.ttf"
    monkeypatch.setattr(pdf, "FONT_CANDIDATES", [])
    monkeypatch.setattr(pdf, "_font", None)
    with caplog.at_level("WARNING", logger="yiwang.catalog.pdf"):
        content = _pdf(client, published).content
    assert pdf.font_name() == pdf.FALLBACK_CID_FONT
    assert "falling back" in caplog.text
    assert "食品经营许可" in _text(content)
