"""Back office (工作台) pages for catalog administrators: the review-and-publish workflow.

Views only parse input and render; every change goes through ``catalog.services``, every
object is reached through ``services.items_for``/``get_item_for`` (so another department's
item is simply not found), and domain errors become 4xx pages that keep what was typed.
"""

from __future__ import annotations

import re
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import CharField, Count, F, Q, QuerySet
from django.db.models.functions import Cast
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from yiwang.catalog import codes, services
from yiwang.catalog.forms import (
    MATERIAL_PREFIX,
    NEW_ROW_DEFAULTS,
    SECTIONS,
    ItemVersionForm,
    MaterialForm,
    MaterialFormSet,
    RetireForm,
    ReviewForm,
    organizations_for_choice,
)
from yiwang.catalog.models import ItemVersion, ServiceItem
from yiwang.core.errors import DomainError, NotFound, ValidationFailed
from yiwang.core.models import AuditEntry
from yiwang.core.uploads import check_upload
from yiwang.core.views_office import staff_required
from yiwang.identity import scoping
from yiwang.identity.models import Role, StaffAccount

OPEN_STATUSES = [ItemVersion.Status.DRAFT, ItemVersion.Status.SUBMITTED, ItemVersion.Status.REVIEWED]
PAGE_SIZE = 20
INVALID = "填写有误，请按提示修改 / please correct the marked fields"


# ----------------------------------------------------------------------------- access
def catalog_admin_required(view):
    @wraps(view)
    @staff_required
    def wrapper(request, *args, **kwargs):
        if not scoping.has_role(request.user, Role.CATALOG_ADMIN):
            raise PermissionDenied("仅限事项管理员 / catalog administrators only")
        return view(request, *args, **kwargs)

    return wrapper


def _item(request, code: str) -> ServiceItem:
    try:
        return services.get_item_for(request.user, code)
    except NotFound:
        raise Http404("事项不存在 / item not found") from None


def _version(item: ServiceItem, number: int) -> ItemVersion:
    version = item.versions.filter(number=number).first()
    if version is None:
        raise Http404("版本不存在 / version not found")
    return version


# ----------------------------------------------------------------------------- shared helpers
def _summary(form=None, formset=None, extra: list[str] | None = None) -> list[dict[str, str]]:
    """The error summary: one entry per message, linking to the field it belongs to."""
    out: list[dict[str, str]] = []
    for f in [form, *(formset.forms if formset is not None else [])]:
        if f is None:
            continue
        prefix = ""
        if f is not form:
            prefix = f"申请材料第{formset.forms.index(f) + 1}项："
        for name, errors in f.errors.items():
            if name == "__all__":
                out += [{"label": prefix.rstrip("："), "text": e, "href": ""} for e in errors]
                continue
            bf = f[name]
            out += [{"label": prefix + str(bf.label), "text": e, "href": f"#f-{bf.html_name}"} for e in errors]
    if formset is not None:
        out += [{"label": "申请材料", "text": e, "href": "#materials"} for e in formset.non_form_errors()]
    out += [{"label": "", "text": e, "href": ""} for e in extra or []]
    return out


def _attach(exc: DomainError, form=None, formset=None, positions: list[int] | None = None) -> list[str]:
    """Put a service's per-field messages beside the fields; return the ones with no field."""
    leftover: list[str] = []
    for key, msgs in exc.fields.items():
        m = re.fullmatch(r"materials\[(\d+)\]\.(\w+)", key)
        if m and formset is not None and positions is not None and int(m[1]) < len(positions):
            row = formset.forms[positions[int(m[1])]]
            if m[2] in row.fields:
                for msg in msgs:
                    row.add_error(m[2], msg)
                continue
            leftover += [f"申请材料第{positions[int(m[1])] + 1}项：{msg}" for msg in msgs]
        elif form is not None and key in form.fields:
            for msg in msgs:
                form.add_error(key, msg)
        elif key == "materials" and formset is not None:
            leftover += msgs
        else:
            label = services.LABELS.get(key, "")
            leftover += [f"{label}：{msg}" if label else msg for msg in msgs]
    return leftover


def _display_names(usernames: set[str]) -> dict[str, str]:
    rows = StaffAccount.objects.filter(user__username__in=usernames).values_list("user__username", "display_name")
    return {u: d or u for u, d in rows}


def _person(user) -> str:
    if user is None:
        return ""
    staff = scoping.staff_of(user)
    return (staff.display_name if staff and staff.display_name else user.get_username())


# ----------------------------------------------------------------------------- audit trail
ACTION_WORDS = {
    "catalog.item.create": "新建事项",
    "catalog.version.update": "修改草稿",
    "catalog.version.submit": "提交审核",
    "catalog.version.publish": "发布",
    "catalog.version.revise": "修订（生成新草稿）",
    "catalog.item.retire": "取消事项",
    "catalog.item.popularity": "更新热度",
}


def _audit_for(items) -> Any:
    """Audit entries about the given items and their versions (newest first)."""
    item_codes = items.values("implementation_code")
    version_ids = (ItemVersion.objects.filter(item__in=items).annotate(sid=Cast("pk", CharField()))
                   .values("sid"))
    return AuditEntry.objects.filter(Q(object_type="ServiceItem", object_id__in=item_codes)
                                     | Q(object_type="ItemVersion", object_id__in=version_ids)).order_by("-seq")


def _describe(entries: list[AuditEntry]) -> list[dict[str, Any]]:
    """Entries in words: who, what, about which item and version."""
    names = _display_names({e.actor.removeprefix("user:") for e in entries if e.actor.startswith("user:")})
    codes_seen = {e.detail.get("item") or e.object_id for e in entries}
    item_names = {}
    for item in ServiceItem.objects.filter(implementation_code__in=codes_seen).prefetch_related("versions"):
        latest = max(item.versions.all(), key=lambda v: v.number, default=None)
        item_names[item.implementation_code] = latest.name if latest else item.basic_item_id
    out = []
    for e in entries:
        d = e.detail or {}
        words = ACTION_WORDS.get(e.action, e.action)
        notes = []
        if e.action == "catalog.version.review":
            words = "审核通过" if d.get("approved") else "退回修改"
        if d.get("number"):
            notes.append(f"第{d['number']}版")
        if d.get("from"):
            notes.append(f"以第{d['from']}版为底稿")
        if d.get("supersedes"):
            notes.append(f"替代第{d['supersedes']}版")
        if d.get("opinion"):
            notes.append(f"意见：{d['opinion']}")
        if d.get("reason"):
            notes.append(f"原因：{d['reason']}")
        code = d.get("item") or e.object_id
        actor = e.actor.removeprefix("user:")
        out.append({"entry": e, "action": words, "actor": names.get(actor, actor), "notes": "；".join(notes),
                    "code": code, "item_name": item_names.get(code, "")})
    return out


# ----------------------------------------------------------------------------- dashboard
@staff_required
def dashboard(request):
    user = request.user
    context: dict[str, Any] = {"is_catalog_admin": scoping.has_role(user, Role.CATALOG_ADMIN),
                               "is_platform_admin": scoping.is_platform_admin(user)}
    if context["is_catalog_admin"]:
        items = services.items_for(user)
        counts = dict(ItemVersion.objects.filter(item__in=items).values_list("status")
                      .annotate(n=Count("id")).values_list("status", "n"))
        context["counts"] = [
            {"status": s.value, "label": s.label, "n": counts.get(s.value, 0)}
            for s in (ItemVersion.Status.DRAFT, ItemVersion.Status.SUBMITTED, ItemVersion.Status.REVIEWED,
                      ItemVersion.Status.PUBLISHED)]
        context["retired"] = items.filter(state=ServiceItem.State.RETIRED).count()
        context["to_review"] = list(
            ItemVersion.objects.filter(item__in=items, status=ItemVersion.Status.SUBMITTED)
            .exclude(submitted_by=user).select_related("item", "item__organization", "submitted_by")
            .order_by("submitted_at")[:20])
        context["mine_returned"] = list(
            ItemVersion.objects.filter(item__in=items, status=ItemVersion.Status.DRAFT, submitted_by=user)
            .exclude(review_opinion="").select_related("item").order_by("-reviewed_at")[:10])
        context["recent"] = _describe(list(_audit_for(items)[:12]))
    return render(request, "office/dashboard.html", context)


# ----------------------------------------------------------------------------- list
STATUS_FILTERS = [("draft", "草稿"), ("submitted", "待审核"), ("reviewed", "已审核待发布"),
                  ("published", "已发布"), ("retired", "已取消")]
SORTS = {"code": "implementation_code", "name": "latest_name", "org": "organization__name",
         "version": "published_version__number", "updated": "latest_updated_at"}


def item_list_queryset(user, *, status: str = "", item_type: str = "", q: str = "",
                       sort: str = "-updated") -> tuple[QuerySet, str, str]:
    """The office item list for ``user``: (queryset, sort, sort key) after the filters and the sort.

    The scope filter comes first and every shown or sorted column lives on the item (kept in step
    by the catalog services), so the default order is a range of the (organization,
    -latest_updated_at, implementation_code) index per organisation (the
    (-latest_updated_at, implementation_code) index when the scope is everything): no correlated
    subqueries. The queryset selects the item rows only; ``item_list_page`` adds the rest.
    """
    qs = services.items_for(user)
    if status in ("draft", "submitted", "reviewed"):
        qs = qs.filter(open_status=status, state=ServiceItem.State.ACTIVE)
    elif status == "published":
        qs = qs.filter(published_version__isnull=False, state=ServiceItem.State.ACTIVE)
    elif status == "retired":
        qs = qs.filter(state=ServiceItem.State.RETIRED)
    if item_type in codes.ItemType.values:
        qs = qs.filter(latest_type=item_type)
    if q:
        qs = qs.filter(Q(latest_name__icontains=q) | Q(implementation_code__icontains=q.upper())
                       | Q(published_version__name__icontains=q))
    key = sort.removeprefix("-")
    if key not in SORTS:
        sort, key = "-updated", "updated"
    order = SORTS[key]
    return qs.order_by(f"-{order}" if sort.startswith("-") else order, "implementation_code"), sort, key


def item_list_page(qs: QuerySet, number) -> Page:
    """One page of the list: the page's ids from the ordered list (the index alone, on the common
    paths), then those items with their organisation and published version."""
    page = Paginator(qs.values_list("id", flat=True), PAGE_SIZE).get_page(number)
    ids = list(page.object_list)
    rows = item_list_rows(ids).in_bulk()
    page.object_list = [rows[i] for i in ids if i in rows]
    return page


def item_list_rows(ids: list[int]) -> QuerySet:
    """The items shown on one page, by primary key, with only the columns the table shows."""
    return (ServiceItem.objects.filter(id__in=ids).select_related("organization", "published_version")
            .only("implementation_code", "state", "latest_name", "latest_updated_at", "open_status", "open_number",
                  "organization__name", "published_version__number")
            .annotate(current_name=F("latest_name"), current_updated=F("latest_updated_at")).order_by())


@catalog_admin_required
def item_list(request):
    status = request.GET.get("status", "")
    item_type = request.GET.get("type", "")
    q = request.GET.get("q", "").strip()[:60]
    qs, sort, key = item_list_queryset(request.user, status=status, item_type=item_type, q=q,
                                      sort=request.GET.get("sort", "-updated"))
    page = item_list_page(qs, request.GET.get("page"))
    columns = [("code", "实施编码"), ("name", "事项名称"), ("org", "实施机构"), ("version", "现行版本"),
               ("updated", "最近修改")]
    headers = []
    for k, label in columns:
        current = key == k
        desc = current and sort.startswith("-")
        headers.append({"key": k, "label": label, "current": current,
                        "aria": ("descending" if desc else "ascending") if current else "",
                        "next": k if (current and desc) or (not current and k != "updated") else f"-{k}"})
    return render(request, "office/items/list.html", {
        "page": page, "headers": headers, "status": status, "item_type": item_type, "q": q,
        "status_filters": STATUS_FILTERS, "types": codes.ItemType.choices, "sort": sort,
    })


# ----------------------------------------------------------------------------- create / edit
def _materials_from(formset, version: ItemVersion | None) -> tuple[list[dict], list[int]]:
    """The material dicts the services take, with uploaded files checked by their content."""
    allowed = set()
    if version is not None:
        for m in version.materials.all():
            allowed.update(n for n in (m.blank_form.name, m.sample.name) if n)
    materials, positions, errors = [], [], {}
    for index, row in enumerate(formset.forms):
        cd = row.cleaned_data
        if not cd or cd.get("DELETE"):
            continue
        pos = len(materials)
        m = {k: cd[k] for k in services.MATERIAL_FIELDS}
        for f in ("blank_form", "sample"):
            upload = cd.get(f)
            if upload:
                try:
                    m[f] = check_upload(upload, f"materials[{pos}].{f}")
                except ValidationFailed as exc:
                    for k, v in exc.fields.items():
                        errors.setdefault(k, []).extend(v)
            elif cd.get(f"existing_{f}") in allowed and not cd.get(f"clear_{f}"):
                m[f] = cd[f"existing_{f}"]
        materials.append(m)
        positions.append(index)
    if errors:
        raise _UploadRejected(ValidationFailed("上传的文件有误 / an uploaded file was rejected", fields=errors),
                              positions)
    return materials, positions


class _UploadRejected(Exception):
    def __init__(self, exc: ValidationFailed, positions: list[int]):
        self.exc, self.positions = exc, positions


def _bind(request, organizations=None):
    """Bind the item form and the materials formset; '增加一行材料' redisplays without judging."""
    data = request.POST
    adding = "add_material" in data
    if adding:
        data = data.copy()
        try:
            n = max(0, min(int(data.get(f"{MATERIAL_PREFIX}-TOTAL_FORMS", "0")), 59))
        except ValueError:
            n = 0
        data[f"{MATERIAL_PREFIX}-TOTAL_FORMS"] = str(n + 1)
        for k, v in NEW_ROW_DEFAULTS.items():
            data[f"{MATERIAL_PREFIX}-{n}-{k}"] = v
    form = ItemVersionForm(data, organizations=organizations, quiet=adding)
    formset = MaterialFormSet(data, request.FILES, prefix=MATERIAL_PREFIX)
    formset.quiet = adding
    return form, formset, adding


def _form_page(request, context: dict[str, Any], status: int = 200):
    return render(request, "office/items/form.html", context, status=status)


def _save(request, form, formset, save, context: dict[str, Any], version: ItemVersion | None):
    """Validate, run the service call ``save(materials)``, or redisplay with messages and a 4xx status."""
    valid = form.is_valid()
    valid = formset.is_valid() and valid
    if not valid:
        return _form_page(request, {**context, "form": form, "formset": formset, "message": INVALID,
                                    "summary": _summary(form, formset)}, 400)
    positions: list[int] = []
    try:
        materials, positions = _materials_from(formset, version)
        result = save(materials)
    except _UploadRejected as rejected:
        _attach(rejected.exc, form, formset, rejected.positions)
        return _form_page(request, {**context, "form": form, "formset": formset, "message": rejected.exc.message,
                                    "summary": _summary(form, formset)}, 400)
    except DomainError as exc:
        leftover = _attach(exc, form, formset, positions)
        return _form_page(request, {**context, "form": form, "formset": formset, "message": exc.message,
                                    "conflict": exc.status == 409,
                                    "summary": _summary(form, formset, leftover)}, exc.status)
    return result


@catalog_admin_required
def item_create(request):
    organizations = organizations_for_choice(
        scoping.visible_organization_ids(request.user, Role.CATALOG_ADMIN)).filter(region__isnull=False)
    context: dict[str, Any] = {"title": "新建事项", "creating": True}
    if request.method == "POST":
        form, formset, adding = _bind(request, organizations)
        if adding:
            return _form_page(request, {**context, "form": form, "formset": formset, "quiet": True})

        def save(materials):
            return services.create_item(request.user, organization=form.cleaned_data["organization"],
                                        data=form.version_data(), themes=form.theme_codes(), materials=materials)

        result = _save(request, form, formset, save, context, None)
        if not isinstance(result, ItemVersion):
            return result
        messages.success(request, f"已新建事项“{result.name}”（草稿，第1版），实施编码 {result.item.implementation_code}")
        return redirect("office_item", code=result.item.implementation_code)
    first = organizations.first()
    form = ItemVersionForm(organizations=organizations, initial={
        "organization": first, "exercise_level": str(first.level) if first else "3",
        "service_objects": ["1"], "handling_forms": ["1"], "online_depth": ["1"]})
    formset = MaterialFormSet(prefix=MATERIAL_PREFIX)
    return _form_page(request, {**context, "form": form, "formset": formset})


@catalog_admin_required
def version_edit(request, code: str, number: int):
    item = _item(request, code)
    version = _version(item, number)
    context: dict[str, Any] = {"title": f"修改草稿：{version.name}", "item": item, "version": version}
    if version.status != ItemVersion.Status.DRAFT:
        return _form_page(request, {**context, "form": None, "message":
                                    f"第{version.number}版当前为“{version.get_status_display()}”，只有草稿可以修改 / "
                                    "only drafts can be edited", "conflict": True}, 409)
    if request.method == "POST":
        form, formset, adding = _bind(request)
        lock = request.POST.get("lock_version", "")
        context["lock_version"] = lock
        if adding:
            return _form_page(request, {**context, "form": form, "formset": formset, "quiet": True})

        def save(materials):
            expected = int(lock) if lock.isdigit() else -1
            return services.update_draft(request.user, version, data=form.version_data(), expected_lock=expected,
                                         themes=form.theme_codes(), materials=materials)

        result = _save(request, form, formset, save, context, version)
        if not isinstance(result, ItemVersion):
            return result
        messages.success(request, f"已保存第{result.number}版草稿")
        return redirect("office_item", code=item.implementation_code)
    form = ItemVersionForm(initial=ItemVersionForm.initial_for(version))
    formset = MaterialFormSet(prefix=MATERIAL_PREFIX,
                              initial=[MaterialForm.initial_for(m) for m in version.materials.all()])
    return _form_page(request, {**context, "form": form, "formset": formset, "lock_version": version.lock_version})


# ----------------------------------------------------------------------------- item page and actions
def _item_page(request, item: ServiceItem, *, status: int = 200, error: DomainError | None = None,
               review_form=None, retire_form=None, action: str = ""):
    versions = list(item.versions.select_related("created_by", "submitted_by", "reviewed_by", "published_by")
                    .order_by("-number"))
    open_version = next((v for v in versions if v.status in OPEN_STATUSES), None)
    active = item.state == ServiceItem.State.ACTIVE
    self_submitted = bool(open_version and open_version.status == ItemVersion.Status.SUBMITTED
                          and services.four_eyes() and open_version.submitted_by_id == request.user.id)
    summary = []
    if error is not None:
        for key, msgs in error.fields.items():
            summary += [{"label": "", "text": m, "href": f"#f-{key}" if key in ("opinion", "reason") else ""}
                        for m in msgs]
    return render(request, "office/items/detail.html", {
        "item": item, "versions": [(v, {
            "created_by": _person(v.created_by), "submitted_by": _person(v.submitted_by),
            "reviewed_by": _person(v.reviewed_by), "published_by": _person(v.published_by)}) for v in versions],
        "open_version": open_version, "active": active, "self_submitted": self_submitted,
        "latest": versions[0] if versions else None,
        "can_revise": active and open_version is None and item.published_version_id is not None,
        "review_form": review_form or ReviewForm(), "retire_form": retire_form or RetireForm(),
        "error": error, "summary": summary, "action": action,
    }, status=status)


@catalog_admin_required
def item_detail(request, code: str):
    return _item_page(request, _item(request, code))


def _act(request, item: ServiceItem, action: str, run, done: str):
    review_form = ReviewForm(request.POST if action == "review" else None)
    retire_form = RetireForm(request.POST if action == "retire" else None)
    for f in (review_form, retire_form):
        if f.is_bound and not f.is_valid():
            return _item_page(request, item, status=400, error=ValidationFailed(INVALID, fields=dict(f.errors)),
                              review_form=review_form, retire_form=retire_form, action=action)
    try:
        run(review_form.cleaned_data if review_form.is_bound else retire_form.cleaned_data
            if retire_form.is_bound else {})
    except DomainError as exc:
        for f in (review_form, retire_form):
            if f.is_bound:
                for key, msgs in exc.fields.items():
                    if key in f.fields:
                        for m in msgs:
                            f.add_error(key, m)
        return _item_page(request, item, status=exc.status, error=exc, review_form=review_form,
                          retire_form=retire_form, action=action)
    messages.success(request, done)
    return redirect("office_item", code=item.implementation_code)


@require_POST
@catalog_admin_required
def version_action(request, code: str, number: int, action: str):
    item = _item(request, code)
    version = _version(item, number)
    user = request.user
    if action == "submit":
        return _act(request, item, action, lambda cd: services.submit_version(user, version),
                    f"第{number}版已提交审核，请等待其他管理员审核")
    if action == "publish":
        return _act(request, item, action, lambda cd: services.publish_version(user, version),
                    f"第{number}版已发布，门户和搜索已更新")
    decision = request.POST.get("decision")
    if decision not in ("approve", "return"):
        return _item_page(request, item, status=400, review_form=ReviewForm(request.POST), action="review",
                          error=ValidationFailed("请选择“审核通过”或“退回修改” / choose approve or return"))
    approve = decision == "approve"
    return _act(request, item, "review",
                lambda cd: services.review_version(user, version, approve=approve, opinion=cd.get("opinion", "")),
                f"第{number}版已审核通过，可以发布" if approve else f"第{number}版已退回修改")


@require_POST
@catalog_admin_required
def item_revise(request, code: str):
    item = _item(request, code)
    holder = {}

    def run(cd):
        holder["v"] = services.start_revision(request.user, item)

    response = _act(request, item, "revise", run, "已生成新草稿")
    if "v" in holder and response.status_code == 302:
        return redirect("office_version_edit", code=code, number=holder["v"].number)
    return response


@require_POST
@catalog_admin_required
def item_retire(request, code: str):
    item = _item(request, code)
    return _act(request, item, "retire", lambda cd: services.retire_item(request.user, item, reason=cd["reason"]),
                "事项已取消，门户和搜索中不再显示")


# ----------------------------------------------------------------------------- reading
def _display(version: ItemVersion, name: str) -> str:
    value = getattr(version, name)
    if name in services.MULTI_FIELDS:
        enum = services.MULTI_FIELDS[name]
        return "、".join(enum(c).label for c in value if c in enum.values) or "—"
    if name == "themes":
        return "、".join(t.name for t in version.themes.all()) or "—"
    field = ItemVersion._meta.get_field(name)
    if field.choices:
        return getattr(version, f"get_{name}_display")()
    if isinstance(value, bool):
        return "是" if value else "否"
    if value in (None, ""):
        return "—"
    return str(value)


@catalog_admin_required
def version_detail(request, code: str, number: int):
    item = _item(request, code)
    version = _version(item, number)
    labels = services.LABELS
    sections = [(anchor, heading, [(labels.get(n, n), _display(version, n), n in ("conditions", "process",
                                                                                  "legal_basis"))
                                   for n in names]) for anchor, heading, names in SECTIONS]
    return render(request, "office/items/version.html", {
        "item": item, "version": version, "sections": sections, "materials": version.materials.all(),
        "people": {k: _person(getattr(version, k)) for k in ("created_by", "submitted_by", "reviewed_by",
                                                              "published_by")},
    })


@catalog_admin_required
def item_compare(request, code: str):
    item = _item(request, code)
    numbers = list(item.versions.order_by("-number").values_list("number", flat=True))
    if not numbers:
        raise Http404("事项没有版本 / no versions")

    def pick(param: str, default: int) -> int:
        raw = request.GET.get(param, "")
        return int(raw) if raw.isdigit() else default

    b = pick("b", numbers[0])
    default_a = item.published_version.number if item.published_version_id and \
        item.published_version.number != b else (numbers[1] if len(numbers) > 1 else numbers[0])
    a = pick("a", default_a)
    va, vb = _version(item, a), _version(item, b)
    rows = services.diff_versions(va, vb)
    for row in rows:
        # A line-by-line view only helps for multi-line text; the first hunk marker says nothing.
        multiline = "\n" in row["old"] or "\n" in row["new"]
        row["marked"] = [{"sign": line[:1], "text": line[1:],
                          "kind": {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")}
                         for i, line in enumerate(row["lines"]) if multiline and not (i == 0 and line[:1] == "@")]
    return render(request, "office/items/compare.html", {
        "item": item, "a": va, "b": vb, "rows": rows, "numbers": numbers})


@catalog_admin_required
def item_history(request, code: str):
    item = _item(request, code)
    entries = _describe(list(_audit_for(ServiceItem.objects.filter(pk=item.pk))[:500]))
    return render(request, "office/items/history.html", {"item": item, "entries": entries,
                                                         "latest": item.versions.order_by("-number").first()})
