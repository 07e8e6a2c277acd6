"""The public portal as a citizen sees it: home, search, guide, print, departments, elder mode, login."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from yiwang.catalog import services
from yiwang.catalog.models import ServiceItem


def _text(response) -> str:
    return response.content.decode()


@pytest.fixture
def marriage(org_b, admin_b, city):
    """A second published item, of another department, for people."""
    factories.theme("hunyin", "婚姻登记", "person")
    reviewer = factories.staff("catalog_b2", org_b)
    return factories.published_item(
        org_b, admin_b, reviewer, theme_codes=["hunyin"], name="内地居民婚姻登记", aliases="结婚登记",
        item_type="07", service_objects=["1"], online_depth=["1"], promised_limit_days=0, case_type="1",
        conditions="内地居民双方自愿结婚，共同到婚姻登记机关申请。", result_name="结婚证",
        mats=factories.materials("居民户口簿", "居民身份证"),
    )


# ----------------------------------------------------------------------------- home
def test_home_lists_themes_hot_items_and_figures(client, published, marriage):
    ServiceItem.objects.filter(pk=marriage.item_id).update(popularity=50)
    response = client.get("/")
    assert response.status_code == 200
    html = _text(response)
    assert "个人办事" in html and "法人办事" in html and "部门服务" in html
    assert 'href="/search/?theme=kaiban"' in html and "企业开办" in html
    assert 'href="/search/?theme=hunyin"' in html
    hot = html[html.index("热门服务"):]
    assert hot.index("内地居民婚姻登记") < hot.index("食品经营许可"), "most popular first"
    assert "已发布事项" in html and "全程网办" in html


def test_home_hides_items_never_published(client, published, org_a, admin_a):
    services.create_item(admin_a, organization=org_a, data=factories.item_data(name="草稿中的事项"),
                         materials=factories.materials())
    assert "草稿中的事项" not in _text(client.get("/"))


def test_home_works_on_an_empty_catalog(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert "暂未发布办事服务" in _text(response)


# ----------------------------------------------------------------------------- search
@pytest.mark.parametrize("q", ["食品经营许可", "开饭店", "营业执照"])
def test_search_finds_an_item_by_name_alias_or_material(client, published, marriage, q):
    html = _text(client.get("/search/", {"q": q}))
    assert f"/items/{published.item.implementation_code}/" in html
    assert "内地居民婚姻登记" not in html


def test_search_highlights_the_matched_term_in_names(client, published):
    html = _text(client.get("/search/", {"q": "经营"}))
    assert "食品<mark>经营</mark>许可" in html


def test_search_result_shows_organisation_type_level_days_and_visits(client, published):
    html = _text(client.get("/search/", {"q": "食品"}))
    assert "临江市市场监督管理局" in html
    assert "行政许可" in html
    assert "10 个工作日" in html
    assert "最多跑 1 次" in html
    assert "Ⅲ级" in html


def test_facets_show_counts_and_narrow_the_results(client, published, marriage):
    html = _text(client.get("/search/"))
    assert "共找到 <strong>2</strong> 项服务" in html
    assert "行政许可" in html and "行政确认" in html
    narrowed = _text(client.get("/search/", {"type": "07"}))
    assert "共找到 <strong>1</strong> 项服务" in narrowed
    assert "内地居民婚姻登记" in narrowed and "食品经营许可</a>" not in narrowed


def test_facet_links_keep_the_other_parameters(client, published, marriage):
    html = _text(client.get("/search/", {"q": "登记", "object": "person"}))
    links = re.findall(r'href="/search/\?([^"]*type=07[^"]*)"', html)
    assert links and all("q=" in link and "object=person" in link for link in links)


def test_object_and_theme_filters_from_the_home_page(client, published, marriage):
    person = _text(client.get("/search/", {"object": "person"}))
    assert "内地居民婚姻登记" in person and "食品经营许可</a>" not in person
    theme = _text(client.get("/search/", {"theme": "kaiban"}))
    assert "食品经营许可" in theme and "内地居民婚姻登记</a>" not in theme


def test_department_filter_narrows_results(client, published, marriage, org_b):
    html = _text(client.get("/search/", {"organization": org_b.pk}))
    assert "内地居民婚姻登记" in html and "食品经营许可</a>" not in html


@pytest.mark.parametrize("params", [
    {"page": "abc"}, {"page": "-3"}, {"page": "99999"}, {"page": "1e9"}, {"type": "zz"}, {"type": "99"},
    {"region": "abc"}, {"region": "990000000000"}, {"organization": "x1"}, {"organization": "99999999999999999999"},
    {"depth": "9"}, {"depth": "abc"}, {"object": "alien"}, {"theme": "<script>"}, {"q": "'\" OR 1=1 --"},
    {"q": "营" * 500}, {"q": "\x00"},
])
def test_bad_search_parameters_never_cause_a_server_error(client, published, params):
    response = client.get("/search/", params)
    assert response.status_code in (200, 400)


def test_bad_parameter_is_ignored_with_a_message(client, published):
    html = _text(client.get("/search/", {"type": "zz", "page": "abc"}))
    assert "事项类型无效" in html and "页码无效" in html
    assert "食品经营许可" in html


def test_empty_result_offers_suggestions(client, published):
    html = _text(client.get("/search/", {"q": "护照"}))
    assert "没有找到符合条件的服务" in html
    assert "热门服务" in html and "食品经营许可" in html


def test_search_paginates_twenty_per_page(client, org_a, admin_a, admin_a2):
    for i in range(21):
        factories.published_item(org_a, admin_a, admin_a2, name=f"测试事项{i:02d}")
    first = _text(client.get("/search/", {"q": "测试事项"}))
    assert first.count('class="result"') == 20
    assert "下一页" in first
    second = _text(client.get("/search/", {"q": "测试事项", "page": 2}))
    assert second.count('class="result"') == 1


def test_search_query_count_does_not_grow_with_results(client, org_a, admin_a, admin_a2):
    factories.published_item(org_a, admin_a, admin_a2, name="测试事项甲")
    client.get("/search/", {"q": "测试事项"})  # warm the synonym table cache
    with CaptureQueriesContext(connection) as few:
        client.get("/search/", {"q": "测试事项"})
    for i in range(6):
        factories.published_item(org_a, admin_a, admin_a2, name=f"测试事项{i}")
    with CaptureQueriesContext(connection) as many:
        client.get("/search/", {"q": "测试事项"})
    assert len(many.captured_queries) == len(few.captured_queries)


# ----------------------------------------------------------------------------- guide
GUIDE_SECTIONS = ["基本信息", "受理条件", "申请材料", "办理流程", "办理时限", "收费标准", "设定依据",
                  "办理地点和时间", "咨询与投诉"]


def test_guide_shows_every_section_in_order(client, published):
    html = _text(client.get(f"/items/{published.item.implementation_code}/"))
    body = html[html.index('class="guide-body"'):]
    positions = [body.index(f">{title}</h2>") for title in GUIDE_SECTIONS]
    assert positions == sorted(positions)


def test_guide_shows_codes_materials_steps_and_time_limits(client, published):
    item = published.item
    html = _text(client.get(f"/items/{item.implementation_code}/"))
    assert item.implementation_code in html and item.basic_item.basic_code in html
    assert "食品经营许可申请书" in html and "营业执照" in html
    assert "序号" in html and "申请人自备" in html
    for step in ["申请", "受理", "审查", "决定", "送达"]:
        assert f'<span class="step-text">{step}</span>' in html
    assert "承诺 10 个工作日" in html and "20 个工作日" in html
    assert re.search(r"今天受理预计 <strong>\d{4}年\d{1,2}月\d{1,2}日</strong> 办结", html)
    assert "《中华人民共和国食品安全法》第三十五条" in html
    assert "0391-12345" in html and "0391-12315" in html


def test_guide_offers_online_application_print_and_pdf(client, published):
    code = published.item.implementation_code
    html = _text(client.get(f"/items/{code}/"))
    assert f'href="/accounts/login/?next=%2Fitems%2F{code}%2F"' in html and "在线办理" in html
    assert f'href="/items/{code}/print/"' in html and "打印指南" in html
    assert f'href="/items/{code}/guide.pdf"' in html and "下载PDF" in html
    assert "第 1 版" in html and "发布于" in html


def test_portal_shows_the_published_text_not_the_open_draft(client, published, admin_a):
    draft = services.start_revision(admin_a, published.item)
    services.update_draft(admin_a, draft, data={"conditions": "草稿里的新受理条件"})
    html = _text(client.get(f"/items/{published.item.implementation_code}/"))
    assert "申请人应当具有与经营的食品品种" in html
    assert "草稿里的新受理条件" not in html
    assert "第 1 版" in html


def test_retired_item_is_gone(client, published, admin_a):
    services.retire_item(admin_a, published.item, reason="法规调整")
    code = published.item.implementation_code
    assert client.get(f"/items/{code}/").status_code == 404
    assert client.get(f"/items/{code}/print/").status_code == 404
    assert client.get(f"/items/{code}/guide.pdf").status_code == 404
    assert code not in _text(client.get("/search/"))


def test_unknown_and_never_published_items_are_404(client, org_a, admin_a):
    draft = services.create_item(admin_a, organization=org_a, data=factories.item_data(),
                                 materials=factories.materials())
    assert client.get(f"/items/{draft.item.implementation_code}/").status_code == 404
    response = client.get("/items/NOPE/")
    assert response.status_code == 404
    assert "页面不存在" in _text(response)


def test_print_page_renders_without_navigation(client, published):
    response = client.get(f"/items/{published.item.implementation_code}/print/")
    assert response.status_code == 200
    html = _text(response)
    assert "食品经营许可" in html and "申请材料" in html and "营业执照" in html
    assert 'class="site-header"' not in html and "主导航" not in html


# ----------------------------------------------------------------------------- themes, departments
def test_theme_page_redirects_to_filtered_search(client, published):
    response = client.get("/themes/kaiban/")
    assert response.status_code == 302 and response["Location"] == "/search/?theme=kaiban"
    assert client.get("/themes/no-such-theme/").status_code == 404


def test_departments_list_organisations_with_item_counts(client, published, marriage, org_a):
    html = _text(client.get("/departments/"))
    assert "市级部门" in html
    assert "临江市市场监督管理局" in html and "临江市民政局" in html
    assert f'href="/departments/{org_a.uscc}/"' in html
    assert "1 项" in html


def test_department_page_lists_its_published_items(client, published, marriage, org_a):
    html = _text(client.get(f"/departments/{org_a.uscc}/"))
    assert "食品经营许可" in html and "内地居民婚姻登记" not in html
    assert client.get("/departments/NOTAREALCODE/").status_code == 404


# ----------------------------------------------------------------------------- elder mode
def test_elder_mode_toggles_with_a_cookie_and_returns_to_the_page(client, published):
    response = client.get("/elder/", {"next": "/search/?q=营业执照"})
    assert response.status_code == 302 and unquote(response["Location"]) == "/search/?q=营业执照"
    assert response.cookies["elder"].value == "1"
    assert '<body class="elder' in _text(client.get("/"))
    assert "标准版" in _text(client.get("/"))
    off = client.get("/elder/", {"next": "/"})
    assert off.cookies["elder"].value == ""
    assert '<body class="elder' not in _text(client.get("/"))


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/",
                                    "javascript:alert(1)"])
def test_elder_toggle_never_redirects_off_site(client, db, target):
    response = client.get("/elder/", {"next": target})
    assert response["Location"] == "/"


# ----------------------------------------------------------------------------- login
def test_login_page_has_chinese_labels(client, db):
    html = _text(client.get("/accounts/login/"))
    assert '<label for="id_username">账号</label>' in html
    assert '<label for="id_password">密码</label>' in html


def test_wrong_password_shows_an_error_summary(client, admin_a):
    response = client.post("/accounts/login/", {"username": "catalog_a", "password": "wrong-password"})
    assert response.status_code == 400
    html = _text(response)
    assert 'class="error-summary"' in html and "账号或密码不正确" in html


def test_empty_login_form_names_each_missing_field(client, db):
    html = _text(client.post("/accounts/login/", {"username": "", "password": ""}))
    assert "请输入账号" in html and "请输入密码" in html
    assert 'aria-invalid="true"' in html


def test_staff_login_asks_for_the_second_factor_and_logout_needs_post(client, admin_a):
    response = client.post("/accounts/login/", {"username": "catalog_a", "password": "yiwang-demo"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/totp/")
    assert "_auth_user_id" not in client.session
    client.force_login(admin_a)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
