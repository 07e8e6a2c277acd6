"""Demo certificates: four types of the catalog mapped to the demo items, and a few dozen issued
certificates — some in the demo citizen's and the demo company's wallets, a few suspended,
revoked, reissued or expired so every verification outcome can be seen.

``load()`` is idempotent: types are matched by their code, and certificates are only issued for
a type that has none yet. Everything goes through ``services`` (signed PDFs, QR payloads, audit).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from django.utils import timezone

from yiwang.certificates import services
from yiwang.certificates.models import Certificate, CertificateType
from yiwang.core import audit
from yiwang.core.models import Organization

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DemoType:
    name: str
    organization: str
    sequence: str
    holder_kind: str
    template: str
    validity_years: int
    items: tuple[str, ...]
    fields: list[dict]
    mapping: dict[str, str]
    materials: tuple[str, ...] = ()
    description: str = ""


BUSINESS_LICENCE = DemoType(
    "营业执照", "临江市市场监督管理局", "001", "enterprise", "licence", 0,
    ("公司设立登记", "企业设立登记", "个人独资企业设立登记", "合伙企业设立登记", "分公司设立登记",
     "公司变更登记", "证照遗失补领、换发申请"),
    [{"name": "name", "label": "名称", "key": True},
     {"name": "kind", "label": "类型", "key": True},
     {"name": "legal_rep", "label": "法定代表人", "key": True, "mask": "name"},
     {"name": "capital", "label": "注册资本", "required": False},
     {"name": "established_on", "label": "成立日期", "type": "date"},
     {"name": "address", "label": "住所"},
     {"name": "scope", "label": "经营范围", "max_length": 500}],
    {"name": "enterprise.name|form.enterprise_name|applicant.name", "kind": "enterprise.kind|=有限责任公司",
     "legal_rep": "enterprise.legal_representative|form.legal_representative|applicant.name",
     "capital": "form.capital", "established_on": "enterprise.registered_on|case.decided_on",
     "address": "form.address|enterprise.address", "scope": "form.scope|form.description"},
    ("营业执照", "营业执照副本"), "市场主体登记的结果证照；长期有效，变更登记后换发新版本。")

FOOD_LICENCE = DemoType(
    "食品经营许可证", "临江市市场监督管理局", "002", "enterprise", "permit", 5,
    ("食品(含保健食品)经营许可核发", "食品(含保健食品)经营许可延续", "食品(含保健食品)经营许可变更经营项目"),
    [{"name": "operator", "label": "经营者名称", "key": True},
     {"name": "legal_rep", "label": "法定代表人（负责人）", "key": True, "mask": "name"},
     {"name": "address", "label": "经营场所"},
     {"name": "main_form", "label": "主体业态", "key": True},
     {"name": "scope", "label": "经营项目", "key": True, "max_length": 300}],
    {"operator": "enterprise.name|form.enterprise_name|applicant.name",
     "legal_rep": "enterprise.legal_representative|form.legal_representative|applicant.name",
     "address": "form.address|enterprise.address", "main_form": "form.main_form|=餐饮服务经营者",
     "scope": "form.scope|=热食类食品制售"},
    ("食品经营许可证",), "有效期 5 年；延续、变更经营项目后换发新版本。")

DISABILITY_CARD = DemoType(
    "中华人民共和国残疾人证", "临江市残疾人联合会", "001", "person", "card", 10,
    ("残疾人证新办", "残疾人证换领"),
    [{"name": "gender", "label": "性别"},
     {"name": "kind", "label": "残疾类别", "key": True},
     {"name": "grade", "label": "残疾等级", "key": True},
     {"name": "address", "label": "户籍地址", "mask": "address", "required": False},
     {"name": "guardian", "label": "监护人", "mask": "name", "required": False}],
    {"gender": "form.gender", "kind": "form.disability_kind", "grade": "form.disability_grade",
     "address": "form.address|applicant.address", "guardian": "form.guardian"},
    ("残疾人证", "中华人民共和国残疾人证"), "第二代残疾人证；有效期 10 年。")

MARRIAGE_CERTIFICATE = DemoType(
    "结婚证", "临江市民政局", "001", "person", "card", 0,
    ("内地居民结婚登记", "中国内地公民婚姻登记", "补领结婚证"),
    [{"name": "spouse_name", "label": "配偶姓名", "key": True, "mask": "name"},
     {"name": "spouse_id", "label": "配偶身份证件号", "mask": "id_number"},
     {"name": "registered_on", "label": "登记日期", "type": "date", "key": True},
     {"name": "registry", "label": "登记机关"}],
    {"spouse_name": "form.spouse_name", "spouse_id": "form.spouse_id_number",
     "registered_on": "case.decided_on", "registry": "org.name"},
    ("结婚证", "户口簿及结婚证"), "婚姻登记的结果证照；长期有效。")

DEMO_TYPES = (BUSINESS_LICENCE, FOOD_LICENCE, DISABILITY_CARD, MARRIAGE_CERTIFICATE)


def _items_for(demo: DemoType):
    """Published items of these names, wherever implemented (a county's certificate is issued by the
    county's implementing organisation); for enterprise types only items for legal persons alone, so
    a citizen's own case never asks for an enterprise certificate."""
    from yiwang.catalog.models import ServiceItem

    items = list(ServiceItem.objects.filter(state=ServiceItem.State.ACTIVE, published_version__name__in=demo.items)
                 .select_related("published_version"))
    if demo.holder_kind == "enterprise":
        items = [i for i in items if "1" not in (i.published_version.service_objects or [])]
    return items


def load_types() -> dict[str, CertificateType]:
    made: dict[str, CertificateType] = {}
    for demo in DEMO_TYPES:
        org = Organization.objects.filter(name=demo.organization).select_related("region").first()
        if org is None:
            log.warning("演示证照类型 %s 跳过：没有机构 %s / demo type skipped: no organisation", demo.name,
                        demo.organization)
            continue
        code = f"{org.uscc}{demo.sequence}"
        existing = CertificateType.objects.filter(type_code=code).first()
        if existing is not None:
            made[demo.name] = existing
            continue
        items = _items_for(demo)
        with audit.acting_as("system:demo"):
            made[demo.name] = services.save_type(
                None, name=demo.name, type_code=code, defining_organization=org,
                issuing_organization=org, holder_kind=demo.holder_kind, fields=demo.fields,
                form_mapping=demo.mapping, validity_years=demo.validity_years, template=demo.template,
                stands_for_materials=list(demo.materials), description=demo.description, service_items=items,
                basic_items=[i.basic_item_id for i in items])
    return made


def _holders():
    """Demo accounts first (so their wallets have certificates), then registry records."""
    from yiwang.identity.models import Enterprise, LegalPersonRecord, Person, PopulationRecord

    order = ("citizen", "citizen2", "company", "agent")
    persons = sorted(Person.objects.filter(user__username__in=order).select_related("user"),
                     key=lambda p: order.index(p.user.username))
    known = {p.id_number for p in persons}
    others = [r for r in PopulationRecord.objects.order_by("pk")[:60] if r.id_number not in known]
    enterprises = list(Enterprise.objects.order_by("pk"))
    records = list(LegalPersonRecord.objects.filter(active=True).order_by("pk")[:40])
    return persons, others, enterprises, records


def _gender(code: str) -> str:
    return "男" if len(code) == 18 and code[16].isdigit() and int(code[16]) % 2 else "女"


def _issue(ctype, when: dt.date, data: dict, **holder) -> Certificate | None:
    from yiwang.core.errors import DomainError

    try:
        return services.issue(ctype, data=data, issued_on=when, user=None, **holder)
    except DomainError as exc:
        log.warning("演示证照未颁发 / demo certificate not issued: %s %s", exc.message, exc.fields)
        return None


def load_certificates(types: dict[str, CertificateType]) -> list[Certificate]:
    persons, others, enterprises, records = _holders()
    today = timezone.localdate()
    issued: list[Certificate] = []
    ent_by_uscc = {e.uscc: e for e in enterprises}

    def days_ago(n: int) -> dt.date:
        return today - dt.timedelta(days=n)

    def enterprise_holder(r) -> dict:
        """The enterprise's account when it has one, else its name and credit code."""
        return {"holder": ent_by_uscc[r.uscc]} if r.uscc in ent_by_uscc else {
            "holder_name": r.name, "holder_code": r.uscc}

    licence = types.get(BUSINESS_LICENCE.name)
    if licence is not None and not licence.certificates.exists():
        for n, r in enumerate(records[:14]):
            data = {"name": r.name, "kind": r.kind, "legal_rep": r.legal_rep_name,
                    "established_on": (r.registered_on or days_ago(400 + 37 * n)).isoformat(),
                    "address": r.address or "临江市滨江区江滨路18号", "capital": f"人民币{(n % 9 + 1) * 50}万元",
                    "scope": "餐饮服务；食品销售；日用百货销售（依法须经批准的项目，经相关部门批准后方可开展经营活动）"}
            issued.append(_issue(licence, days_ago(30 + 41 * n), data, **enterprise_holder(r)))

    food = types.get(FOOD_LICENCE.name)
    if food is not None and not food.certificates.exists():
        for n, r in enumerate(records[:8]):
            data = {"operator": r.name, "legal_rep": r.legal_rep_name,
                    "address": r.address or "临江市滨江区江滨路18号",
                    "main_form": ("餐饮服务经营者", "食品销售经营者", "单位食堂")[n % 3],
                    "scope": ("热食类食品制售；冷食类食品制售", "预包装食品销售（含冷藏冷冻食品）", "热食类食品制售")[n % 3]}
            # One issued six years ago: past its five years, the expiry sweep marks it 失效.
            issued.append(_issue(food, days_ago(2200 if n == 7 else 20 + 60 * n), data, **enterprise_holder(r)))

    kinds = [("肢体残疾", "三级"), ("视力残疾", "二级"), ("听力残疾", "四级"), ("言语残疾", "三级"),
             ("肢体残疾", "四级"), ("智力残疾", "二级"), ("精神残疾", "三级"), ("听力残疾", "二级")]
    card = types.get(DISABILITY_CARD.name)
    if card is not None and not card.certificates.exists():
        people = [{"holder": p, "_code": p.id_number, "_address": p.address} for p in persons[:1]] + [
            {"holder_name": r.name, "holder_code": r.id_number, "_code": r.id_number, "_address": r.address}
            for r in others[:7]]
        for n, h in enumerate(people):
            code, address = h.pop("_code"), h.pop("_address")
            data = {"gender": _gender(code), "kind": kinds[n][0], "grade": kinds[n][1],
                    "address": address or "临江市滨江区江滨路1号"}
            issued.append(_issue(card, days_ago(90 + 120 * n), data, **h))

    marriage = types.get(MARRIAGE_CERTIFICATE.name)
    if marriage is not None and not marriage.certificates.exists():
        pool = [{"holder": p} for p in persons[:2]] + [
            {"holder_name": r.name, "holder_code": r.id_number} for r in others[7:15]]
        spouses = others[15:] or others
        for n, h in enumerate(pool):
            spouse = spouses[n % len(spouses)] if spouses else None
            when = days_ago(200 + 150 * n)
            data = {"spouse_name": spouse.name if spouse else "陈静", "spouse_id": spouse.id_number if spouse else "",
                    "registered_on": when.isoformat(), "registry": marriage.issuing_organization.name}
            if not data["spouse_id"]:
                data.pop("spouse_id")
            issued.append(_issue(marriage, when, data, **h))
    return [c for c in issued if c is not None]


def _lifecycle_examples(certificates: list[Certificate]) -> None:
    """A suspended, a revoked and a reissued certificate, so each verification outcome can be shown."""
    from yiwang.identity.models import Person

    accounts = set(Person.objects.filter(user__username__in=("citizen", "citizen2", "company", "agent"))
                   .values_list("pk", flat=True))
    others = [c for c in certificates if c.person_id not in accounts
              and (c.enterprise is None or c.enterprise.legal_representative_id not in accounts)]
    system = None  # the platform itself
    for cert, action in zip(others[1:4], ("suspend", "revoke", "reissue"), strict=False):
        cert.refresh_from_db()
        if action == "suspend":
            services.suspend(system, cert, reason="演示：涉嫌违法经营，暂扣待查")
        elif action == "revoke":
            services.revoke(system, cert, reason="演示：以欺骗手段取得许可，依法撤销", kind="revoke")
        else:
            services.reissue(system, cert, reason="演示：证照遗失，申请补发")


def load() -> dict[str, int]:
    """Types, certificates and a few lifecycle examples; returns counts of what was made."""
    with audit.acting_as("system:demo"):
        types_before = CertificateType.objects.count()
        types = load_types()
        before = Certificate.objects.count()
        certificates = load_certificates(types)
        if certificates:
            _lifecycle_examples(certificates)
        expired = services.expire_due()
    return {"证照类型": CertificateType.objects.count() - types_before, "电子证照": Certificate.objects.count() - before, "到期失效": expired}
