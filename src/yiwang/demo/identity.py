"""Demo identities: the synthetic base registries (人口库, 法人库), the citizen, company and agent
demo accounts, the organisation administrator, and every demo staff member's second factor.

Everything is invented and deterministic: names and numbers derive from positions in fixed
lists, so loading twice changes nothing. ID numbers carry the demo city's division codes
(3901xx, a province code no real one has) and valid check characters; credit codes are valid too.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from yiwang.core import audit, validators
from yiwang.demo import places
from yiwang.identity.models import (
    AccountSecurity,
    AgentAuthorization,
    AssuranceLevel,
    Enterprise,
    LegalPersonRecord,
    Person,
    PopulationRecord,
    Role,
    StaffAccount,
)

if TYPE_CHECKING:
    from yiwang.demo.loader import Orgs, Summary

DEMO_PASSWORD = "yiwang-demo"
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"
STAFF_USERNAMES = ("admin", "admin2", "catalog", "catalog2", "clerk", "reviewer", "approver", "supervisor",
                   "orgadmin")
POPULATION_SIZE = 200
ENTERPRISES = 50

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩建国志文俊峰海林东"
FEMALE = "芳娜敏静丽艳娟霞秀玲桂婷雪慧颖琳晶倩洁梅红兰萍燕莉琴云凤"
TRADES = [("餐饮管理", "有限责任公司"), ("商贸", "有限责任公司"), ("建筑工程", "有限责任公司"),
          ("物流", "有限责任公司"), ("信息技术", "有限责任公司"), ("农业科技", "有限责任公司"),
          ("文化传媒", "有限责任公司"), ("医疗器械", "有限责任公司"), ("食品", "股份有限公司"),
          ("教育咨询", "有限责任公司")]
BRANDS = ["青禾", "江帆", "望湖", "云台", "石门", "桃源", "松岭", "龙潭", "临港", "沙洲", "书院", "莲塘", "白云", "枫林", "双河", "清水", "月湖", "创业", "竹林", "茶园"]

# The people behind the demo accounts come first in the registry.
DEMO_PEOPLE = [
    # username, name, gender, birth, county, mobile, level
    ("citizen", "张明华", "1", dt.date(1986, 5, 12), "390102", "13903910001", AssuranceLevel.L2),
    ("citizen2", "李秀英", "2", dt.date(1992, 11, 3), "390103", "13903910002", AssuranceLevel.L1),
    ("company", "赵建国", "1", dt.date(1975, 8, 21), "390104", "13903910003", AssuranceLevel.L2),
    ("agent", "陈晓燕", "2", dt.date(1995, 2, 27), "390102", "13903910004", AssuranceLevel.L2),
]


# ----------------------------------------------------------------------------- synthetic people
def _county_address(county6: str, n: int) -> str:
    county = next(c for c in places.COUNTIES if c[0] == county6)
    town = county[3][n % len(county[3])]
    village = town[2][n % len(town[2])]
    return f"{places.CITY[1]}{county[1]}{town[1]}{village[1]}{n % 40 + 1}号"


def population() -> list[dict]:
    """The synthetic population: the demo account holders, then others, all distinct."""
    people = []
    for i, (_u, name, gender, birth, county, _m, _l) in enumerate(DEMO_PEOPLE):
        seq = f"{10 + 2 * i + (1 if gender == '1' else 0):03d}"  # odd sequence: male (GB 11643)
        people.append({"name": name, "gender": gender, "id_number": validators.make_citizen_id(county, birth, seq),
                       "address": _county_address(county, i)})
    counties = [c[0] for c in places.COUNTIES]
    n = 0
    while len(people) < POPULATION_SIZE:
        gender = "1" if n % 2 == 0 else "2"
        chars = MALE if gender == "1" else FEMALE
        given = chars[(n * 7) % len(chars)] + ("" if n % 3 == 0 else chars[(n * 11 + 3) % len(chars)])
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=(n * 379) % (365 * 65))
        county = counties[n % len(counties)]
        seq = 100 + (n % 400) * 2 + (1 if gender == "1" else 0)
        people.append({"name": SURNAMES[(n * 13) % len(SURNAMES)] + given, "gender": gender,
                       "id_number": validators.make_citizen_id(county, birth, f"{seq:03d}"),
                       "address": _county_address(county, n)})
        n += 1
    return people


def enterprises(people: list[dict]) -> list[dict]:
    """Synthetic enterprises; the first is the demo company, represented by the ``company`` person."""
    counties = [c[0] for c in places.COUNTIES]
    out = []
    for i in range(ENTERPRISES):
        county = counties[i % len(counties)]
        trade, kind = TRADES[i % len(TRADES)]
        brand = BRANDS[i % len(BRANDS)] + ("" if i < len(BRANDS) else "新" if i < 2 * len(BRANDS) else "鑫")
        rep = people[2] if i == 0 else people[4 + (i * 3) % (len(people) - 4)]
        out.append({
            "uscc": validators.make_uscc("9", "1", county, f"MA{i + 1:06d}"),
            "name": f"{places.CITY[1]}{brand}{trade}{kind}",
            "kind": kind, "legal_rep_name": rep["name"], "legal_rep_id_number": rep["id_number"],
            "address": _county_address(county, i + 7),
            "registered_on": dt.date(2008, 1, 15) + dt.timedelta(days=i * 97),
        })
    return out


def _missing_people(id_numbers: list[str]) -> set[str]:
    index_field = PopulationRecord._meta.get_field("id_number_index")
    wanted = {index_field.index_for(v): v for v in id_numbers}
    have = set(PopulationRecord.objects.filter(id_number_index__in=list(wanted))
               .values_list("id_number_index", flat=True))
    return {v for k, v in wanted.items() if k not in have}


def load_registries(summary: Summary, people: list[dict], firms: list[dict]) -> None:
    missing = _missing_people([p["id_number"] for p in people])
    PopulationRecord.objects.bulk_create([PopulationRecord(**p) for p in people if p["id_number"] in missing])
    summary.created["人口库"] += len(missing)
    have = set(LegalPersonRecord.objects.filter(uscc__in=[f["uscc"] for f in firms]).values_list("uscc", flat=True))
    new = [LegalPersonRecord(**f) for f in firms if f["uscc"] not in have]
    LegalPersonRecord.objects.bulk_create(new)
    summary.created["法人库"] += len(new)
    if missing or new:
        audit.record("demo.registries.create", "PopulationRecord", "demo",
                     detail={"population": len(missing), "legal_persons": len(new)})


# ----------------------------------------------------------------------------- accounts
def load_citizens(summary: Summary, people: list[dict], firms: list[dict]) -> None:
    User = get_user_model()
    hashed = None
    persons: dict[str, Person] = {}
    now = timezone.now()
    for i, (username, name, _g, _b, _c, mobile, level) in enumerate(DEMO_PEOPLE):
        user, created = User.objects.get_or_create(username=username)
        if created:
            hashed = hashed or make_password(DEMO_PASSWORD)
            user.password = hashed
            user.save(update_fields=["password"])
            AccountSecurity.objects.get_or_create(user=user)
            audit.record("demo.account.create", "User", username, detail={"kind": "person", "level": int(level)})
        summary.created["账号"] += created
        person = Person.objects.filter(user=user).first()
        if person is None:
            person = Person.objects.create(
                user=user, name=name, id_number=people[i]["id_number"], mobile=mobile, address=people[i]["address"],
                assurance_level=level, level_changed_at=now if level > AssuranceLevel.L1 else None)
        persons[username] = person

    company, agent = persons["company"], persons["agent"]
    firm = firms[0]
    enterprise = Enterprise.objects.filter(uscc=firm["uscc"]).first()
    if enterprise is None:
        enterprise = Enterprise.objects.create(uscc=firm["uscc"], name=firm["name"], legal_representative=company)
        audit.record("demo.enterprise.create", "Enterprise", firm["uscc"], detail={"name": firm["name"]})
        summary.created["法人账号"] += 1
    if not AgentAuthorization.objects.filter(enterprise=enterprise, agent=agent, revoked_at__isnull=True).exists():
        today = timezone.localdate()
        AgentAuthorization.objects.create(enterprise=enterprise, agent=agent, all_items=True, valid_from=today,
                                          valid_until=today + dt.timedelta(days=365), granted_by=company)
        audit.record("demo.agent.authorize", "Enterprise", firm["uscc"], detail={"agent": "agent", "all_items": True})
        summary.created["经办授权"] += 1

    labels = dict(AssuranceLevel.choices)
    for username, *_ in DEMO_PEOPLE:
        person = persons[username]
        where = {"company": f"{enterprise.name} 法定代表人",
                 "agent": f"{enterprise.name} 经办人"}.get(username, "自然人")
        summary.accounts.append({"username": username, "display_name": person.name,
                                 "roles": labels[person.assurance_level], "organization": where})


def load_org_admin(summary: Summary, orgs: Orgs) -> None:
    User = get_user_model()
    org = orgs.city["shichang"]
    user, created = User.objects.get_or_create(username="orgadmin")
    if created:
        user.password = make_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        StaffAccount.objects.create(user=user, organization=org, roles=[Role.ORG_ADMIN.value],
                                    display_name="市场监管机构管理员（演示）")
        audit.record("demo.account.create", "User", "orgadmin",
                     detail={"organization": org.name, "roles": [Role.ORG_ADMIN.value]})
    summary.created["账号"] += created
    staff = StaffAccount.objects.filter(user=user).select_related("organization").first()
    summary.accounts.append({"username": "orgadmin", "display_name": staff.display_name if staff else "",
                             "organization": staff.organization.name if staff else org.name,
                             "roles": Role.ORG_ADMIN.label})


def load_second_factors(summary: Summary) -> None:
    """Every demo staff member shares the documented authenticator secret, already confirmed."""
    now = timezone.now()
    users = get_user_model().objects.filter(username__in=STAFF_USERNAMES, staff__isnull=False)
    done = 0
    for user in users:
        security, _ = AccountSecurity.objects.get_or_create(user=user)
        if security.totp_confirmed_at and security.totp_secret == DEMO_TOTP_SECRET:
            continue
        security.totp_secret = DEMO_TOTP_SECRET
        security.totp_confirmed_at = now
        security.totp_last_step = 0
        security.save(update_fields=["totp_secret", "totp_confirmed_at", "totp_last_step"])
        done += 1
    if done:
        audit.record("demo.totp.set", "AccountSecurity", "demo", detail={"accounts": done})
    summary.created["动态口令"] += done


def load_identities(summary: Summary, orgs: Orgs) -> None:
    """Load (or complete) the demo identities; safe to run again."""
    people = population()
    firms = enterprises(people)
    load_registries(summary, people, firms)
    load_org_admin(summary, orgs)
    load_citizens(summary, people, firms)
    load_second_factors(summary)
