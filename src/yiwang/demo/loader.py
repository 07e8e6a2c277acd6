"""Load the demo city: divisions, organisations, staff accounts, themes, synonyms and the
service catalog. Items are written through the catalog services (create → submit → review by
a second administrator → publish), so versions, search rows and the audit trail are real.

Idempotent and deterministic: codes derive from names and positions in the fixed tables,
and anything that already exists (by code, username or implementation code) is left alone.
"""

from __future__ import annotations

import csv
import dataclasses
import zlib
from collections import Counter, defaultdict
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Max

from yiwang.catalog import codes, search, services
from yiwang.catalog.models import BasicItem, ItemVersion, SearchEntry, ServiceItem, Synonym, Theme
from yiwang.core import audit, validators
from yiwang.core.models import Organization, Region
from yiwang.demo import bundles
from yiwang.demo import catalog_data as data
from yiwang.demo import cases, identity, places
from yiwang.identity.models import Role, StaffAccount

REFERENCE_CSV = Path(__file__).resolve().parent / "data" / "catalog-reference.csv"
DEMO_PASSWORD = "yiwang-demo"
ACTOR = "system:demo"
HALL = "临江市政务服务中心"
HALL_ADDRESS = "滨江区市府大道88号"
SUPERVISE_PHONE = "0391-12345（12345政务服务便民热线）"
CITY_HOURS = "周一至周五 上午9:00-12:00，下午13:30-17:30；周六上午9:00-12:00延时服务（法定节假日除外）"
COUNTY_HOURS = "周一至周五 上午8:30-12:00，下午14:00-17:30（法定节假日除外）"


def _h(text: str) -> int:
    """A stable small hash, so that 'random' demo choices are the same on every run."""
    return zlib.crc32(text.encode("utf-8"))


def _phone(seed: str) -> str:
    return f"0391-{6 + _h(seed) % 3}{_h(seed + '#') % 1000000:06d}"


# ----------------------------------------------------------------------------- result
@dataclasses.dataclass
class Summary:
    regions: dict[str, int] = dataclasses.field(default_factory=dict)
    organizations: int = 0
    items_by_type: dict[str, int] = dataclasses.field(default_factory=dict)
    published: int = 0
    open_versions: int = 0
    created: Counter = dataclasses.field(default_factory=Counter)
    accounts: list[dict] = dataclasses.field(default_factory=list)

    def lines(self) -> list[str]:
        out = ["行政区划：" + "，".join(f"{k} {v} 个" for k, v in self.regions.items()),
               f"组织机构：{self.organizations} 个",
               f"已发布事项：{self.published} 项（另有 {self.open_versions} 个待办版本）"]
        out.append("按事项类型：" + "，".join(
            f"{codes.ItemType(t).label}（{t}）{n}" for t, n in sorted(self.items_by_type.items())))
        made = "，".join(f"{k} {v}" for k, v in sorted(self.created.items()) if v) or "无（数据已存在）"
        out.append(f"本次新增：{made}")
        out.append(f"演示账号（密码均为 {DEMO_PASSWORD}）：")
        for a in self.accounts:
            out.append(f"  {a['username']:<11}{a['roles']:<10}{a['organization']}")
        out.append(f"工作人员动态口令密钥（所有演示工作人员共用）：{identity.DEMO_TOTP_SECRET}")
        return out


# ----------------------------------------------------------------------------- regions
def load_regions(summary: Summary) -> dict[str, Region]:
    out: dict[str, Region] = {}

    def put(code: str, name: str, parent: Region | None) -> Region:
        region, created = Region.objects.get_or_create(
            code=code, defaults={"name": name, "level": validators.division_level(code), "parent": parent})
        summary.created["区划"] += created
        out[code] = region
        return region

    province = put(places.PROVINCE[0], places.PROVINCE[1], None)
    city = put(places.CITY[0], places.CITY[1], province)
    for county_code, county_name, _road, towns in places.COUNTIES:
        county = put(county_code + "000000", county_name, city)
        for town_code, town_name, villages in towns:
            town = put(f"{county_code}{town_code}000", town_name, county)
            for village_code, village_name in villages:
                put(f"{county_code}{town_code}{village_code}", village_name, town)
    return out


# ----------------------------------------------------------------------------- organisations
@dataclasses.dataclass
class Orgs:
    city_gov: Organization | None = None
    centre: Organization | None = None
    traffic: Organization | None = None
    city: dict[str, Organization] = dataclasses.field(default_factory=dict)
    county_gov: dict[str, Organization] = dataclasses.field(default_factory=dict)
    county_centre: dict[str, Organization] = dataclasses.field(default_factory=dict)
    county: dict[str, list[Organization]] = dataclasses.field(default_factory=lambda: defaultdict(list))
    towns: list[tuple[Organization, bool]] = dataclasses.field(default_factory=list)  # (centre, is 街道)
    villages: list[Organization] = dataclasses.field(default_factory=list)
    county_name: dict[str, str] = dataclasses.field(default_factory=dict)  # county6 → name


def _org(summary: Summary, *, region: Region, body: str, name: str, kind: str, code: str,
         parent: Organization | None, address: str, short_name: str = "",
         nature: str = Organization.Nature.STATUTORY) -> Organization:
    uscc = validators.make_uscc("1", "1", region.code[:6], body)
    org, created = Organization.objects.get_or_create(uscc=uscc, defaults={
        "name": name, "short_name": short_name, "kind": kind, "nature": nature, "department_code": code,
        "parent": parent, "region": region, "address": address, "phone": _phone(name)})
    summary.created["机构"] += created
    return org


def load_organizations(summary: Summary, regions: dict[str, Region]) -> Orgs:
    K = Organization.Kind
    orgs = Orgs()
    city = regions[places.CITY[0]]
    orgs.city_gov = _org(summary, region=city, body="GF000001", name="临江市人民政府", kind=K.GOVERNMENT,
                         code=places.GOVERNMENT_CODE, parent=None, address="临江市滨江区市府大道1号",
                         short_name="市政府")
    orgs.centre = _org(summary, region=city, body="FW000001", name=HALL, kind=K.CENTRE,
                       code=places.SERVICE_CODE, parent=orgs.city_gov, address=f"临江市{HALL_ADDRESS}",
                       short_name="市政务服务中心")
    for i, kind in enumerate(places.DEPT_KINDS):
        if kind.city is None:
            continue
        orgs.city[kind.key] = _org(
            summary, region=city, body=f"B{kind.code}000", name=places.city_department_name(kind),
            kind=K.INSTITUTION if kind.institution else K.DEPARTMENT, code=kind.code, parent=orgs.city_gov,
            address=f"临江市滨江区市府大道{100 + 2 * i}号", short_name=f"市{kind.window}",
            nature=Organization.Nature.AUTHORISED if kind.institution else Organization.Nature.STATUTORY)
    orgs.traffic = _org(summary, region=city, body="B0101001", name=places.TRAFFIC_POLICE, kind=K.DEPARTMENT,
                        code="0101", parent=orgs.city["gongan"], address="临江市望湖区交通路18号",
                        short_name="市交警支队")
    for county_code, county_name, road, towns in places.COUNTIES:
        orgs.county_name[county_code] = county_name
        region = regions[county_code + "000000"]
        gov = _org(summary, region=region, body="GF000001", name=f"{county_name}人民政府", kind=K.GOVERNMENT,
                   code=places.GOVERNMENT_CODE, parent=orgs.city_gov, address=f"临江市{county_name}{road}1号")
        orgs.county_gov[county_code] = gov
        centre = _org(summary, region=region, body="FW000001", name=f"{county_name}政务服务中心", kind=K.CENTRE,
                      code=places.SERVICE_CODE, parent=gov, address=f"临江市{county_name}{road}66号")
        orgs.county_centre[county_code] = centre
        for i, kind in enumerate(places.DEPT_KINDS):
            if not places.county_has(kind, county_code):
                continue
            orgs.county[kind.key].append(_org(
                summary, region=region, body=f"B{kind.code}000",
                name=places.county_department_name(kind, county_code, county_name),
                kind=K.INSTITUTION if kind.institution else K.DEPARTMENT, code=kind.code, parent=gov,
                address=f"临江市{county_name}{road}{101 + 2 * i}号", short_name=f"{county_name}{kind.window}",
                nature=Organization.Nature.AUTHORISED if kind.institution else Organization.Nature.STATUTORY))
        for town_code, town_name, villages in towns:
            town_region = regions[f"{county_code}{town_code}000"]
            tc = _org(summary, region=town_region, body=f"C{town_code}0000",
                      name=f"{county_name}{town_name}便民服务中心", kind=K.TOWN_CENTRE, code=places.SERVICE_CODE,
                      parent=centre, address=f"临江市{county_name}{town_name}人民路8号")
            orgs.towns.append((tc, town_name.endswith("街道")))
            for village_code, village_name in villages:
                v_region = regions[f"{county_code}{town_code}{village_code}"]
                orgs.villages.append(_org(
                    summary, region=v_region, body=f"W{town_code}{village_code}0",
                    name=f"{town_name}{village_name}便民服务站", kind=K.VILLAGE_STATION,
                    code=places.SERVICE_CODE, parent=tc, address=f"临江市{county_name}{town_name}{village_name}"))
    return orgs


# ----------------------------------------------------------------------------- accounts
ACCOUNTS = [
    # username, display name, roles, organisation key
    ("admin", "平台管理员（演示）", [Role.PLATFORM_ADMIN], "city_gov"),
    ("admin2", "平台管理员（复核，演示）", [Role.PLATFORM_ADMIN], "city_gov"),
    ("catalog", "市场监管事项管理员（演示）", [Role.CATALOG_ADMIN], "shichang"),
    ("catalog2", "市场监管事项复核员（演示）", [Role.CATALOG_ADMIN], "shichang"),
    ("clerk", "综合窗口受理员（演示）", [Role.CLERK], "centre"),
    ("reviewer", "市场监管审查员（演示）", [Role.REVIEWER], "shichang"),
    ("approver", "市场监管审批员（演示）", [Role.APPROVER], "shichang"),
    ("supervisor", "电子监察员（演示）", [Role.SUPERVISOR], "city_gov"),
]


def load_accounts(summary: Summary, orgs: Orgs) -> dict[str, object]:
    User = get_user_model()
    users = {}
    hashed = None  # one hash shared by the demo accounts (hashing is deliberately slow)
    for username, display, roles, where in ACCOUNTS:
        org = orgs.city[where] if where in orgs.city else getattr(orgs, where)
        user, created = User.objects.get_or_create(username=username)
        if created:
            hashed = hashed or make_password(DEMO_PASSWORD)
            user.password = hashed
            user.save(update_fields=["password"])
            StaffAccount.objects.create(user=user, organization=org, roles=[str(r) for r in roles],
                                        display_name=display)
            audit.record("demo.account.create", "User", username,
                         detail={"organization": org.name, "roles": [str(r) for r in roles]})
        summary.created["账号"] += created
        users[username] = user
        staff = StaffAccount.objects.filter(user=user).select_related("organization").first()
        summary.accounts.append({
            "username": username, "display_name": staff.display_name if staff else display,
            "organization": staff.organization.name if staff else org.name,
            "roles": "、".join(Role(r).label for r in (staff.roles if staff else roles) if r in Role.values)})
    return users


# ----------------------------------------------------------------------------- themes, synonyms
def load_themes_and_synonyms(summary: Summary) -> None:
    for order, (code, name, audience, description) in enumerate(data.THEMES, start=1):
        _, created = Theme.objects.get_or_create(code=code, defaults={
            "name": name, "audience": audience, "description": description, "order": order})
        summary.created["主题"] += created
    new_words = []
    for word, expansions in data.SYNONYMS:
        _, created = Synonym.objects.get_or_create(word=word, defaults={"expansions": expansions})
        if created:
            new_words.append(word)
    summary.created["同义词"] += len(new_words)
    if new_words:
        audit.record("demo.synonyms.create", "Synonym", "demo", detail={"words": new_words})
    search.forget_synonyms()


# ----------------------------------------------------------------------------- item specs
@dataclasses.dataclass
class Spec:
    name: str
    item_type: str
    org: Organization
    basic_department: str       # department code of the basic item
    level: str                  # exercise level code
    row: dict
    location: str
    hours: str


def _localise(text: str) -> str:
    for old, new in data.LOCALISE:
        text = text.replace(old, new)
    return text


def reference_rows() -> list[dict]:
    with open(REFERENCE_CSV, encoding="utf-8", newline="") as fh:
        return [{k: _localise(v.strip()) for k, v in row.items()} for row in csv.DictReader(fh)]


def _window_location(org: Organization, orgs: Orgs) -> tuple[str, str]:
    kind = next((k for k in places.DEPT_KINDS if k.code == org.department_code), None)
    window = kind.window if kind else "综合"
    floor = 1 + int(org.department_code) % 4 if org.department_code.isdigit() else 1
    if org.kind in (Organization.Kind.TOWN_CENTRE, Organization.Kind.VILLAGE_STATION):
        return f"{org.name}综合受理窗口（{org.address.removeprefix('临江市')}）", COUNTY_HOURS
    if org.region.level == Region.Level.CITY:
        return f"{HALL}（{HALL_ADDRESS}）{floor}楼{window}窗口", CITY_HOURS
    county = org.region.code[:6]
    centre = orgs.county_centre[county]
    return f"{centre.name}（{centre.address.removeprefix('临江市')}）{floor}楼{window}窗口", COUNTY_HOURS


def build_specs(orgs: Orgs) -> list[Spec]:
    specs: list[Spec] = []
    turn: Counter = Counter()

    def spec(name, item_type, org, basic_department, row):
        level = str(org.level)
        location, hours = _window_location(org, orgs)
        specs.append(Spec(name, item_type, org, basic_department, level, row, location, hours))

    rows = reference_rows()
    types_by_name = {r["item_name"]: r["type_code"] for r in rows if r["type_code"]}
    for row in rows:
        name, dept = row["item_name"], row["department"]
        item_type = row["type_code"] or types_by_name.get(name) or data.TYPE_FOR_NAME.get(name, "20")
        if dept.startswith("市"):
            key = data.DEPARTMENT_KIND[dept[1:]]
            org = orgs.traffic if key == "traffic" else orgs.city[key]
            spec(name, item_type, org, org.department_code, row)
        elif dept.startswith("区"):
            key = data.DEPARTMENT_KIND[dept[1:]]
            candidates = orgs.county[key]
            if name in data.EVERY_COUNTY:
                chosen = candidates
            else:
                chosen = [candidates[turn[key] % len(candidates)]]
                turn[key] += 1
            for org in chosen:
                spec(name, item_type, org, org.department_code, row)
        else:
            kind_key = next((k for w, k in data.TOWN_ITEM_KIND if w in name), "minzheng")
            basic_department = places.KIND_BY_KEY[kind_key].code
            if dept.startswith("村"):
                org = orgs.villages[turn["village"] % len(orgs.villages)]
                turn["village"] += 1
            else:
                street = dept.startswith("街道")
                group = [o for o, is_street in orgs.towns if is_street == street]
                org = group[turn[f"town{street}"] % len(group)]
                turn[f"town{street}"] += 1
            spec(name, item_type, org, basic_department, row)
    for key, level, name, item_type, basis, words in data.EXTRA_ITEMS:
        org = orgs.city[key] if level == "市" else orgs.county[key][_h(name) % len(orgs.county[key])]
        row = {"item_name": name, "type_code": item_type, "legal_basis": basis, "everyday_words": words}
        spec(name, item_type, org, org.department_code, row)
    return specs


# ----------------------------------------------------------------------------- item elements
def _int(value: str) -> int | None:
    return int(value) if (value or "").strip().isdigit() else None


def service_objects(name: str, row: dict, item_type: str) -> list[str]:
    given = row.get("service_object", "")
    if given:
        out = []
        if "自然人" in given:
            out.append("1")
        if "法人" in given:
            out.append("2")
        return out or ["1"]
    if "社会团体" in name or "民办非企业" in name or "慈善" in name:
        return ["4"]
    if "个体工商户" in name:
        return ["1", "6"]
    person = any(w in name for w in data.PERSON_WORDS)
    legal = any(w in name for w in data.LEGAL_WORDS)
    if item_type in ("02", "03", "06"):
        return ["2", "6"] if not person else ["1", "2"]
    if person and legal:
        return ["1", "2"]
    if person:
        return ["1"]
    if legal:
        return ["2"]
    return ["1", "2"]


def legal_basis(name: str, row: dict, item_type: str) -> str:
    if row.get("legal_basis"):
        return row["legal_basis"]
    for words, basis in data.BASIS_RULES:
        if any(w in name for w in words):
            return basis
    return "国家和江川省有关法律法规规定（演示数据）"


def themes_for(name: str, objects: list[str]) -> list[str]:
    person = "1" in objects
    legal = bool(set(objects) & codes.LEGAL_OBJECTS)
    audience = {code: aud for code, _n, aud, _d in data.THEMES}
    out = []
    for code, words in data.THEME_WORDS.items():
        if (audience[code] == "person" and not person) or (audience[code] == "legal" and not legal):
            continue
        if any(w in name for w in words):
            out.append(code)
    return out


def result_of(name: str, item_type: str) -> tuple[str, str]:
    if name in data.RESULTS:
        return data.RESULTS[name]
    if item_type == "01":
        if "《" in name and "》" in name:
            return name[name.index("《") + 1:name.index("》")], "10"
        if "许可证" in name:
            return name[:name.index("许可证") + 3], "10"
        return "准予行政许可决定书", "20"
    return {
        "02": ("行政处罚决定书", "20"), "03": ("查封（扣押）决定书", "20"), "04": ("税费缴纳（退还）凭证", "99"),
        "05": ("给付决定通知书", "99"), "06": ("检查结果告知书", "99"), "07": ("确认结果通知书", "99"),
        "08": ("奖励决定", "20"), "09": ("行政裁决书", "20"), "10": ("备案回执", "99"),
    }.get(item_type, ("", "99"))


def conditions_of(name: str, item_type: str, objects: list[str]) -> str:
    who = "申请人" if item_type not in ("02", "03", "06") else "当事人"
    return {
        "01": f"{who}应当符合法律法规规定的{name}条件，具备与申请事项相适应的场所、设施、人员和管理制度，"
              "并如实提交有关材料、反映真实情况，对申请材料实质内容的真实性负责。",
        "02": "公民、法人或者其他组织有违反行政管理秩序的行为，依法应当给予行政处罚，违法事实清楚、证据确凿，"
              "且在法定追责期限内的，依法立案查处。",
        "03": "有证据证明存在违法行为或者安全隐患，为制止违法行为、防止证据损毁、避免危害发生或者控制危险扩大，"
              "依法需要采取查封、扣押等行政强制措施的。",
        "04": "负有缴纳义务的单位和个人，在规定期限内如实申报；符合退（免）税条件的依法申请退还。",
        "05": "申请人符合国家和江川省规定的给付条件（如户籍、家庭收入和财产、身份类别等），"
              "如实申报家庭经济状况并授权核对。",
        "06": "依法对管理相对人遵守法律法规情况进行监督检查；检查对象通过“双随机、一公开”方式确定，"
              "或者根据投诉举报、专项整治需要确定。",
        "07": f"{who}具有相应的事实或者法律关系，提供真实、有效的证明材料，符合{name}的有关规定。",
        "08": "在相关领域做出突出贡献或者有显著成绩，事迹真实、材料完整，经推荐或者申报的单位和个人。",
        "09": "当事人之间发生与行政管理活动密切相关的民事纠纷，依法申请行政机关裁决，"
              "有明确的被申请人、具体的裁决请求和事实根据，且属于本机关管辖。",
        "10": f"{who}依法应当办理{name}，材料齐全、符合法定形式。",
        "20": f"符合{name}条件的" + (
            "个人，持本人有效身份证件办理。" if objects == ["1"] else
            "单位和个人，持有效身份证件或营业执照办理。" if "1" in objects else
            "单位，持营业执照等主体资格证明办理。"),
    }[item_type]


def _material(name: str, *, required: bool = True, condition: str = "", source: str | None = None,
              detail: str = "") -> dict:
    form = any(w in name for w in ("申请书", "申请表", "申报表", "备案表", "推荐表", "登记表"))
    if source is None:
        source, detail = "applicant", ""
        for word, cert in data.CERTIFICATES if not form else ():  # a form naming a certificate is a form
            if word in name:
                source, detail = "certificate", cert
                break
        else:
            for word, shared in data.SHARED if not form else ():
                if word in name:
                    source, detail = "shared", shared
                    break
    return {
        "name": name[:200], "kind": "1", "media": "2" if source in ("certificate", "shared") else "3",
        "originals": 0 if source in ("certificate", "shared") else 1,
        "copies": 1 if (source == "applicant" and not form and "证" in name) else 0,
        "required": required, "condition": "" if required else condition, "source": source,
        "source_detail": detail,
        "notes": ("可在线填写，由系统生成" if form else
                  "通过电子证照库调取，无需提交纸质材料" if source == "certificate" else
                  "通过部门间数据共享获取，无需申请人提交" if source == "shared" else ""),
    }


def materials_of(name: str, row: dict, item_type: str, objects: list[str]) -> list[dict]:
    if row.get("materials"):
        return [_material(m) for m in row["materials"].split("|") if m.strip()]
    if name in data.MATERIALS:
        return [_material(n, source=s, detail=d, required=r, condition=c) for n, s, d, r, c in data.MATERIALS[name]]
    person = "1" in objects
    legal = bool(set(objects) & codes.LEGAL_OBJECTS)
    form = f"{name}申请表" if len(name) <= 16 else "申请表"
    agent = _material("授权委托书及受托人身份证明", required=False, condition="委托他人代为办理的",
                      source="applicant")
    ident = _material("申请人居民身份证", required=not legal, condition="申请人为自然人的")
    licence = _material("营业执照", required=not person, condition="申请人为企业或者其他组织的")
    party = _material("当事人身份证明或营业执照", source="certificate", detail="居民身份证、营业执照")
    pick: list[dict]
    if item_type == "01":
        pick = [_material(f"{name}申请书" if len(name) <= 16 else "行政许可申请书")]
        pick += [m for m, ok in ((ident, person), (licence, legal)) if ok]
        pick += [_material("与申请事项相适应的场所、设施、专业人员等证明材料"), agent]
    elif item_type == "02":
        pick = [party, _material("陈述、申辩材料", required=False, condition="当事人要求陈述、申辩的"),
                _material("听证申请书", required=False, condition="当事人依法要求听证的")]
    elif item_type == "03":
        pick = [party, _material("陈述、申辩材料", required=False, condition="当事人要求陈述、申辩的")]
    elif item_type == "04":
        pick = [_material("纳税（缴费）申报表"), licence if legal else ident,
                _material("相关完税凭证", required=False, condition="申请退税或者开具证明的")]
    elif item_type == "05":
        pick = [_material(form), _material("申请人居民身份证"), _material("居民户口簿"),
                _material("家庭经济状况核对授权书", source="shared", detail="民政部门家庭经济状况核对共享数据"),
                _material("本人社会保障卡（银行账户）", required=False, condition="首次申领待遇的"), agent]
    elif item_type == "06":
        pick = [_material("被检查单位营业执照", source="certificate", detail="营业执照"),
                _material("生产经营和管理记录等与检查事项有关的资料")]
    elif item_type == "07":
        pick = [_material(form), ident if person else licence, _material("与确认事项有关的证明材料"), agent]
        if person and legal:
            pick.insert(2, licence)
    elif item_type == "08":
        pick = [_material("表彰奖励推荐（申报）表"), _material("先进事迹材料"),
                _material("被推荐人身份证明或营业执照", source="certificate", detail="居民身份证、营业执照")]
    elif item_type == "09":
        pick = [_material("行政裁决申请书"), _material("申请人身份证明或营业执照", source="certificate",
                                                     detail="居民身份证、营业执照"),
                _material("证据材料"), agent]
    elif item_type == "10":
        pick = [_material(f"{name}备案表" if len(name) <= 16 else "备案表"), licence if legal else ident,
                _material("备案事项有关材料")]
    else:
        pick = [ident if person else licence] if any(w in name for w in data.IMMEDIATE_WORDS) else \
            [_material(form), ident if person else licence]
        if person and legal:
            pick.append(licence)
        pick.append(agent)
    in_person = any(w in name for w in ONSITE_WORDS)  # may not be done through an agent
    seen, out = set(), []
    for m in pick:
        if in_person and m is agent:
            continue
        if m["name"] not in seen:
            seen.add(m["name"])
            out.append(m)
    return out


ONSITE_WORDS = ("婚", "身份证办理", "护照", "收养", "驾驶证", "机动车注册", "机动车变更", "残疾人证",
                "出生医学证明", "民族成份")
SAME_DAY_WORDS = ("婚姻登记", "结婚登记", "补领结婚证", "收养子女登记")
ENFORCEMENT = ("02", "03", "06", "08", "09")


def version_data(spec: Spec) -> tuple[dict, list[str], list[dict]]:
    name, t, row = spec.name, spec.item_type, spec.row
    h = _h(name + spec.org.uscc)
    objects = service_objects(name, row, t)
    statutory, promised, note = data.LIMITS[t]
    csv_stat, csv_prom = _int(row.get("statutory_limit_days", "")), _int(row.get("promised_limit_days", ""))
    immediate = t == "20" and any(w in name for w in data.IMMEDIATE_WORDS)
    if immediate:
        statutory, promised = 1, 0
    if any(w in name for w in SAME_DAY_WORDS):
        statutory, promised, note = 0, 0, "符合条件的当场予以登记"
    if csv_prom is not None:
        promised = csv_prom
    if csv_stat is not None:
        statutory, note = csv_stat, "按设定依据规定的期限"
    statutory = max(statutory, promised)
    demo_limits = csv_prom is None
    visits = _int(row.get("visits", ""))
    onsite_reason = ""
    if t in ENFORCEMENT:
        depth, visits_n = (["1", "6"] if t in ("08", "09") else ["1"]), 1
    elif any(w in name for w in ONSITE_WORDS):
        depth, visits_n = ["1", "2", "3", "4"], 1
    elif visits == 0 or (visits is None and h % 10 < (3 if t == "01" else 5)):
        depth, visits_n = ["1", "2", "3", "4", "5", "6"], 0
    elif row.get("online_depth") == "Ⅳ" or h % 10 >= 8:
        depth, visits_n = ["1", "2", "3", "4", "5", "6"], 1
        onsite_reason = ("需入户调查核实家庭情况" if t == "05" else
                         "需现场勘验经营场所" if t == "01" else "需现场核验原件并签字确认")
    else:
        depth, visits_n = ["1", "2", "3", "4"], visits if visits is not None else 1
    result_name, result_type = result_of(name, t)
    if result_type == "10" and "5" in depth:
        depth = depth + ["7"]
    forms = ["1"] + (["2"] if "2" in depth else []) + (["3"] if visits_n == 0 and t in ("05", "20") else [])
    express = result_type == "10" and h % 2 == 0
    if express:
        forms.append("4")
    aliases = row.get("everyday_words", "")
    if name in data.EXTRA_ALIASES:
        aliases = "|".join(dict.fromkeys([*aliases.split("|"), *data.EXTRA_ALIASES[name].split("|")]))
    money = any(w in name for w in ("提取", "报销", "退税", "补贴", "津贴", "待遇", "补助", "救助", "给付"))
    scope = ("national" if ("跨省" in name or "异地" in name) else
             "province" if t == "20" and h % 7 == 0 else codes.Scope.LOCAL)
    enforcement_place = f"{spec.org.name}（{spec.org.address}）"
    values = {
        "name": name,
        "aliases": aliases[:400],
        "item_type": t,
        "exercise_level": spec.level,
        "power_source": "1",
        "service_objects": objects,
        "legal_basis": legal_basis(name, row, t),
        "conditions": conditions_of(name, t, objects),
        "process": data.PROCESS[t],
        "special_procedures": "需要现场核查的，核查时间不计入承诺时限" if t == "01" else "",
        "case_type": "1" if promised == 0 else "2",
        "statutory_limit_days": statutory,
        "statutory_limit_note": note + ("（演示数据）" if csv_stat is None and t not in ("01", "02", "03") else ""),
        "promised_limit_days": promised,
        "promised_limit_note": ("当场办结" if promised == 0 else f"{promised}个工作日内办结") +
                               ("（演示数据）" if demo_limits else ""),
        "charges_fee": False,
        "fee_basis": "不收费",
        "handling_forms": forms,
        "online_depth": depth,
        "visits": visits_n,
        "onsite_reason": onsite_reason,
        "scope": scope,
        "in_hall": t not in ("02", "03", "06"),
        "supports_express": express,
        "supports_payment": False,
        "supports_appointment": t not in ("02", "03", "06"),
        "supports_self_service": immediate,
        "min_assurance_level": 1 if t in ENFORCEMENT else 3 if (t == "05" or money) else 2,
        "location": enforcement_place if t in ("02", "03", "06") else spec.location,
        "hours": spec.hours,
        "consult_phone": spec.org.phone,
        "supervise_phone": SUPERVISE_PHONE,
        "result_name": result_name,
        "result_type": result_type,
    }
    return values, themes_for(name, objects), materials_of(name, row, t, objects)


# ----------------------------------------------------------------------------- writing items
def basic_item_for(spec: Spec) -> BasicItem:
    """The province-level basic item behind ``spec``: one per department code and name."""
    dc = spec.basic_department
    existing = BasicItem.objects.filter(department_code=dc, name=spec.name).order_by("basic_code").first()
    if existing:
        return existing
    prefix = f"39{dc}"
    last = BasicItem.objects.filter(basic_code__startswith=prefix).aggregate(m=Max("basic_code"))["m"]
    code = validators.make_basic_code("39", dc, int(last[6:9]) + 1 if last else 1)
    item = BasicItem.objects.create(basic_code=code, name=spec.name, item_type=spec.item_type, department_code=dc,
                                    legal_basis=legal_basis(spec.name, spec.row, spec.item_type))
    audit.record("demo.basic_item.create", "BasicItem", code, detail={"name": spec.name})
    return item


def _pair_for(org: Organization, orgs: Orgs, users: dict) -> tuple[object, object]:
    """Author and second reviewer: the bureau's own catalog administrators where there are
    demo ones, otherwise the two platform administrators."""
    if org.pk == orgs.city["shichang"].pk:
        return users["catalog"], users["catalog2"]
    return users["admin"], users["admin2"]


def publish_new(author, reviewer, org: Organization, values: dict, themes: list[str], materials: list[dict],
                basic: BasicItem) -> ItemVersion:
    v = services.create_item(author, organization=org, data=values, basic_item=basic, themes=themes,
                             materials=materials)
    v = services.submit_version(author, v)
    v = services.review_version(reviewer, v, approve=True, opinion="同意")
    return services.publish_version(reviewer, v)


def load_items(summary: Summary, orgs: Orgs, users: dict) -> list[ServiceItem]:
    created: list[ServiceItem] = []
    for spec in build_specs(orgs):
        basic = basic_item_for(spec)
        code = validators.make_implementation_code(spec.org.uscc, int(spec.level), basic.basic_code)
        if ServiceItem.objects.filter(implementation_code=code).exists():
            continue
        values, themes, materials = version_data(spec)
        author, reviewer = _pair_for(spec.org, orgs, users)
        version = publish_new(author, reviewer, spec.org, values, themes, materials, basic)
        created.append(ServiceItem.objects.select_related("published_version", "organization").get(pk=version.item_id))
    summary.created["事项"] += len(created)
    return created


def set_popularity(item: ServiceItem, value: int) -> bool:
    """Demo seeding of the hot-service ranking (normally computed from usage statistics)."""
    if item.popularity == value:
        return False
    before = item.popularity
    ServiceItem.objects.filter(pk=item.pk).update(popularity=value)
    SearchEntry.objects.filter(item_id=item.pk).update(popularity=value)
    audit.record("catalog.item.popularity", "ServiceItem", item.implementation_code,
                 before={"popularity": before}, after={"popularity": value})
    return True


def load_popularity(summary: Summary) -> None:
    top = len(data.HOT_ITEMS)
    for rank, name in enumerate(data.HOT_ITEMS):
        # One implementation per name, so the hot list shows thirty different services.
        item = ServiceItem.objects.filter(published_version__name=name).order_by("implementation_code").first()
        if item is not None:
            summary.created["热门"] += set_popularity(item, (top - rank) * 300 + 200)


def load_revisions(summary: Summary, created: list[ServiceItem], orgs: Orgs, users: dict) -> None:
    """A second published version for a few items created in this run (history and diff)."""
    done = set()
    for item in created:
        name = item.published_version.name
        if name not in data.REVISIONS or name in done:
            continue
        done.add(name)
        note, changes = data.REVISIONS[name]
        author, reviewer = _pair_for(item.organization, orgs, users)
        draft = services.start_revision(author, item)
        values = {k: v for k, v in changes.items() if not k.startswith("_")}
        if "_alias" in changes:
            values["aliases"] = f"{draft.aliases}|{changes['_alias']}".strip("|")
        values["change_note"] = note
        draft = services.update_draft(author, draft, data=values, expected_lock=draft.lock_version)
        draft = services.submit_version(author, draft)
        draft = services.review_version(reviewer, draft, approve=True, opinion="同意")
        services.publish_version(reviewer, draft)
        summary.created["修订"] += 1


def load_open_work(summary: Summary, orgs: Orgs, users: dict) -> None:
    """Work in progress for the back-office demo at the city market regulation bureau:
    one draft, one version awaiting review by the second administrator, one open revision."""
    org = orgs.city["shichang"]
    author = users["catalog"]
    for (name, item_type, basis, words), submit in ((data.OPEN_DRAFT_ITEM, False),
                                                    (data.OPEN_SUBMITTED_ITEM, True)):
        spec = Spec(name, item_type, org, org.department_code, str(org.level),
                    {"item_name": name, "legal_basis": basis, "everyday_words": words},
                    *_window_location(org, orgs))
        basic = basic_item_for(spec)
        code = validators.make_implementation_code(org.uscc, org.level, basic.basic_code)
        if ServiceItem.objects.filter(implementation_code=code).exists():
            continue
        values, themes, materials = version_data(spec)
        values["change_note"] = "新增事项（待完善）"
        v = services.create_item(author, organization=org, data=values, basic_item=basic, themes=themes,
                                 materials=materials)
        if submit:
            services.submit_version(author, v)
        summary.created["待办"] += 1
    item = ServiceItem.objects.filter(organization=org, published_version__name=data.OPEN_REVISION_ITEM).first()
    if item is not None and item.versions.count() == 1:
        draft = services.start_revision(author, item)
        services.update_draft(author, draft, expected_lock=draft.lock_version, data={
            "change_note": "拟增加电子证照反馈，压缩承诺时限",
            "online_depth": sorted(set(draft.online_depth) | {"6", "7"}),
            "promised_limit_days": max(0, draft.promised_limit_days - 2)})
        summary.created["待办"] += 1


# ----------------------------------------------------------------------------- entry point
def count(summary: Summary) -> None:
    levels = dict(Region.Level.choices)
    by_level = Counter(Region.objects.filter(code__startswith="39").values_list("level", flat=True))
    summary.regions = {levels[lv]: by_level.get(lv, 0) for lv in sorted(levels)}
    summary.organizations = Organization.objects.filter(region__code__startswith="39").count()
    published = ServiceItem.objects.filter(published_version__isnull=False, state=ServiceItem.State.ACTIVE)
    summary.published = published.count()
    summary.items_by_type = dict(Counter(published.values_list("published_version__item_type", flat=True)))
    summary.open_versions = ItemVersion.objects.filter(
        status__in=[ItemVersion.Status.DRAFT, ItemVersion.Status.SUBMITTED, ItemVersion.Status.REVIEWED]).count()


def load_demo() -> Summary:
    """Load (or complete) the demo city. Safe to run again: nothing is duplicated."""
    summary = Summary()
    with audit.acting_as(ACTOR), transaction.atomic():
        regions = load_regions(summary)
        orgs = load_organizations(summary, regions)
        if summary.created["区划"] or summary.created["机构"]:
            audit.record("demo.places.create", "Organization", "demo",
                         detail={"regions": summary.created["区划"], "organizations": summary.created["机构"]})
        users = load_accounts(summary, orgs)
        identity.load_identities(summary, orgs)  # registries, citizens, company and agent, staff second factor
        load_themes_and_synonyms(summary)
        created = load_items(summary, orgs, users)
        load_popularity(summary)
        load_revisions(summary, created, orgs, users)
        load_open_work(summary, orgs, users)
        bundles.load_bundles(summary)
        from yiwang.seals.services import provision_demo_seals

        summary.created["电子印章"] += len(provision_demo_seals())  # before the cases: their documents are sealed
        cases.load_cases(summary)  # the demo accounts' cases through the services, then generated ones
        from yiwang.certificates import demo as certificate_demo

        for what, n in certificate_demo.load().items():  # certificate types, the demo accounts' certificates
            summary.created[what] += n
    search.forget_synonyms()
    count(summary)
    return summary
