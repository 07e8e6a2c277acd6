"""The public portal: find a service, read its guide (办事指南), print it or take it as a PDF.

Pages are read-only and show only published versions; everything else is invisible here.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from yiwang.catalog import codes, search
from yiwang.catalog.models import ItemVersion, Material, SearchEntry, ServiceItem, Theme
from yiwang.core import calendar
from yiwang.core.models import Organization, Region
from yiwang.core.validators import InvalidCode, check_division_code

PAGE_SIZE = 20
HOT_ITEMS = 8
SUGGESTED_WORDS = ["营业执照", "开饭店", "结婚登记", "社保", "公积金", "出生登记"]
ELDER_COOKIE_AGE = 365 * 24 * 3600

_THEME_CODE = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")


# ----------------------------------------------------------------------------- helpers
def _published_items():
    """Items a citizen may see: active, with a published version."""
    return ServiceItem.objects.filter(state=ServiceItem.State.ACTIVE, published_version__isnull=False)


def _query_string(params: dict[str, str], **changes) -> str:
    """``params`` with ``changes`` applied (None removes a key), as ``?a=b``. ``params`` never
    holds the page number, so a changed filter starts again at page one."""
    merged = {k: v for k, v in params.items() if v not in ("", None)}
    for key, value in changes.items():
        if value in ("", None):
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return "?" + urlencode(merged) if merged else "?"


def highlight(text: str, words: list[str]) -> str:
    """``text`` escaped, with each occurrence of ``words`` wrapped in <mark>."""
    words = sorted({w for w in words if w}, key=len, reverse=True)
    if not words:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(escape(text[last:m.start()]))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        last = m.end()
    out.append(escape(text[last:]))
    return mark_safe("".join(out))


def _highlight_words(q: str) -> list[str]:
    words: list[str] = []
    for term in search.split_terms(q):
        words.extend(search.expand(term))
    return words


def _estimated_completion(version: ItemVersion):
    today = timezone.localdate()
    return calendar.add_working_days(today, version.promised_limit_days)


# ----------------------------------------------------------------------------- home
@require_GET
def home(request):
    themes = list(Theme.objects.all())
    hot = list(
        _published_items().select_related("published_version", "organization")
        .order_by("-popularity", "implementation_code")[:HOT_ITEMS]
    )
    by_level = dict(SearchEntry.objects.values_list("online_level").annotate(n=Count("item_id")))
    total = sum(by_level.values())
    levels = [
        {"value": level.value, "label": level.label, "count": by_level.get(level.value, 0),
         "percent": round(100 * by_level.get(level.value, 0) / total) if total else 0}
        for level in codes.OnlineLevel
    ]
    full_online = by_level.get(codes.OnlineLevel.IV, 0)
    return render(request, "portal/home.html", {
        "person_themes": [t for t in themes if t.audience == Theme.Audience.PERSON],
        "legal_themes": [t for t in themes if t.audience == Theme.Audience.LEGAL],
        "hot_items": hot,
        "total_published": total,
        "full_online": full_online,
        "full_online_percent": round(100 * full_online / total) if total else 0,
        "levels": levels,
        "organization_count": Organization.objects.filter(is_active=True).count(),
        "suggested_words": SUGGESTED_WORDS,
    })


# ----------------------------------------------------------------------------- search
def _parse_filters(get) -> tuple[search.Filters, dict[str, str], list[str]]:
    """Read the filter parameters; anything invalid is dropped with a notice, never an error."""
    notices: list[str] = []
    params: dict[str, str] = {}
    f = search.Filters()

    q = (get.get("q") or "").strip()[: search.MAX_QUERY_CHARS]
    params["q"] = q

    region = (get.get("region") or "").strip()
    if region:
        try:
            f.region = check_division_code(region)
            params["region"] = f.region
        except InvalidCode:
            notices.append("地区代码无效，已忽略该条件。")

    org = (get.get("organization") or "").strip()
    if org:
        if org.isdigit() and len(org) < 12:
            f.organization = int(org)
            params["organization"] = org
        else:
            notices.append("办理部门参数无效，已忽略该条件。")

    item_type = (get.get("type") or "").strip()
    if item_type:
        if item_type in codes.ItemType.values:
            f.item_type = item_type
            params["type"] = item_type
        else:
            notices.append("事项类型无效，已忽略该条件。")

    theme = (get.get("theme") or "").strip()
    if theme:
        if _THEME_CODE.match(theme):
            f.theme = theme
            params["theme"] = theme
        else:
            notices.append("主题参数无效，已忽略该条件。")

    obj = (get.get("object") or "").strip()
    if obj:
        if obj in ("person", "legal"):
            f.object = obj
            params["object"] = obj
        else:
            notices.append("服务对象参数无效，已忽略该条件。")

    depth = (get.get("depth") or "").strip()
    if depth:
        if depth in {str(v) for v in codes.OnlineLevel.values}:
            f.depth = int(depth)
            params["depth"] = depth
        else:
            notices.append("网办深度参数无效，已忽略该条件。")
    return f, params, notices


FACET_VISIBLE = 8
FACET_TITLES = [
    ("object", "object", "服务对象"),
    ("theme", "theme", "主题"),
    ("type", "type", "事项类型"),
    ("depth", "depth", "网办深度"),
    ("organization", "organization", "办理部门"),
    ("region", "region", "办理地区"),
]


def _facet_groups(q: str, f: search.Filters, params: dict[str, str], revision: int | None = None) -> list[dict]:
    data = search.cached_facets(q, f, revision=revision)
    groups = []
    for key, param, title in FACET_TITLES:
        current = params.get(param, "")
        options = []
        for row in data.get(key, []):
            value = str(row["value"])
            selected = value == current
            options.append({
                "label": row["label"] or value, "count": row["count"], "selected": selected,
                "url": _query_string(params, **{param: None if selected else value}),
            })
        if options or current:
            # Long lists show their first few; the rest fold away (the selected one stays visible).
            top = options[:FACET_VISIBLE]
            more = options[FACET_VISIBLE:]
            top += [o for o in more if o["selected"]]
            more = [o for o in more if not o["selected"]]
            groups.append({"title": title, "param": param, "options": top, "more": more,
                           "clear_url": _query_string(params, **{param: None}) if current else ""})
    return groups


@require_GET
def search_page(request):
    filters, params, notices = _parse_filters(request.GET)
    q = params["q"]

    page_param = request.GET.get("page", "1")
    try:
        page_number = int(page_param)
        if page_number < 1:
            raise ValueError
    except (TypeError, ValueError):
        notices.append("页码无效，已显示第一页。")
        page_number = 1

    results = search.SearchResults(q, filters, related=("version", "organization", "item"))
    paginator = Paginator(results, PAGE_SIZE)
    page = paginator.get_page(page_number)
    words = _highlight_words(q)
    rows = [{
        "entry": e, "version": e.version, "code": e.item.implementation_code,
        "name_html": highlight(e.version.name, words),
    } for e in page.object_list]

    # Labels of the active filters, so the page can say what it is showing.
    active = []
    if filters.theme:
        theme = Theme.objects.filter(code=filters.theme).first()
        active.append(("主题", theme.name if theme else filters.theme, "theme"))
    if filters.object:
        active.append(("服务对象", "个人" if filters.object == "person" else "法人", "object"))
    if filters.item_type:
        active.append(("事项类型", codes.ItemType(filters.item_type).label, "type"))
    if filters.depth:
        active.append(("网办深度", codes.OnlineLevel(filters.depth).label, "depth"))
    if filters.organization:
        org = Organization.objects.filter(pk=filters.organization).only("name").first()
        active.append(("办理部门", org.name if org else "未知部门", "organization"))
    if filters.region:
        region = Region.objects.filter(code=filters.region).only("name").first()
        active.append(("办理地区", region.name if region else filters.region, "region"))
    active_filters = [{"title": t, "label": label, "remove_url": _query_string(params, **{p: None})}
                      for t, label, p in active]

    hot = []
    if not paginator.count:
        hot = list(_published_items().select_related("published_version", "organization")
                   .order_by("-popularity", "implementation_code")[:5])

    page_links = {
        "prev": _query_string(params, page=page.previous_page_number()) if page.has_previous() else "",
        "next": _query_string(params, page=page.next_page_number()) if page.has_next() else "",
    }
    return render(request, "portal/search.html", {
        "q": q, "params": params, "notices": notices, "page": page, "rows": rows,
        "count": paginator.count, "count_exact": results.count_exact,
        "count_label": f"{paginator.count:,}" + ("" if results.count_exact else "+"),
        "facet_groups": _facet_groups(q, filters, params, results.revision),
        "active_filters": active_filters, "hot_items": hot, "page_links": page_links,
        "suggested_words": SUGGESTED_WORDS,
    })


# ----------------------------------------------------------------------------- guide
def _published_version_or_404(implementation_code: str) -> ItemVersion:
    item = (_published_items().select_related("basic_item", "organization", "region")
            .filter(implementation_code=implementation_code).first())
    if item is None:
        raise Http404("事项不存在或已取消")
    version = (ItemVersion.objects.filter(pk=item.published_version_id, status=ItemVersion.Status.PUBLISHED)
               .prefetch_related("themes", Prefetch("materials", queryset=Material.objects.order_by("order", "id")))
               .first())
    if version is None:
        raise Http404("事项没有现行版本")
    version.item = item
    return version


def _guide_context(request, version: ItemVersion) -> dict:
    from yiwang.identity.services_levels import apply_gate

    item = version.item
    return {
        "gate": apply_gate(request.user, version),
        "item": item, "version": version, "materials": list(version.materials.all()),
        "themes": list(version.themes.all()), "steps": version.process_steps(),
        "estimated": _estimated_completion(version), "today": timezone.localdate(),
        "apply_url": "/accounts/login/?" + urlencode({"next": request.path}),
        "guide_url": request.build_absolute_uri(f"/items/{quote(item.implementation_code)}/"),
    }


@require_GET
def guide(request, code: str):
    version = _published_version_or_404(code)
    return render(request, "portal/guide.html", _guide_context(request, version))


@require_GET
def guide_print(request, code: str):
    version = _published_version_or_404(code)
    return render(request, "portal/guide_print.html", _guide_context(request, version))


@require_GET
def guide_pdf(request, code: str):
    from yiwang.catalog import pdf

    version = _published_version_or_404(code)
    url = request.build_absolute_uri(f"/items/{quote(version.item.implementation_code)}/")
    content = pdf.guide_pdf(version, url)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = pdf.content_disposition(version)
    response["Cache-Control"] = "public, max-age=3600"
    return response


# ----------------------------------------------------------------------------- themes and departments
@require_GET
def theme(request, code: str):
    theme = get_object_or_404(Theme, code=code)
    return redirect("/search/?" + urlencode({"theme": theme.code}))


REGION_LEVEL_TITLES = {1: "省级部门", 2: "市级部门", 3: "区县部门", 4: "乡镇（街道）便民服务中心",
                       5: "村（社区）便民服务站"}


@require_GET
def departments(request):
    published = Q(items__state=ServiceItem.State.ACTIVE, items__published_version__isnull=False)
    orgs = (Organization.objects.filter(is_active=True).select_related("region")
            .annotate(item_count=Count("items", filter=published))
            .order_by("region__level", "region__code", "-item_count", "name"))
    groups: dict[int, dict] = {}
    without_items = 0
    for org in orgs:
        if not org.item_count:
            without_items += 1  # 便民服务站 and offices with nothing published yet: not a place to go
            continue
        level = org.region.level
        group = groups.setdefault(level, {"title": REGION_LEVEL_TITLES.get(level, "其他"), "regions": {}})
        group["regions"].setdefault(org.region.name, []).append(org)
    return render(request, "portal/departments.html", {
        "groups": [{"title": g["title"], "regions": list(g["regions"].items())}
                   for _, g in sorted(groups.items())],
        "without_items": without_items,
    })


@require_GET
def department(request, uscc: str):
    org = get_object_or_404(Organization.objects.select_related("region"), uscc=uscc.upper(), is_active=True)
    items = list(_published_items().filter(organization=org).select_related("published_version")
                 .order_by("-popularity", "implementation_code"))
    return render(request, "portal/department.html", {"org": org, "items": items})


# ----------------------------------------------------------------------------- elder mode
@require_GET
def elder_toggle(request):
    """长者模式: larger type and spacing, remembered in a cookie; works without JavaScript."""
    target = request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()) or not target.startswith("/"):
        target = "/"
    response = redirect(target)
    if request.COOKIES.get("elder") == "1":
        response.delete_cookie("elder", samesite="Lax")
    else:
        response.set_cookie("elder", "1", max_age=ELDER_COOKIE_AGE, samesite="Lax", httponly=True)
    return response
