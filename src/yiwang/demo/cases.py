"""Demo cases (演示办件): a case store to look around in and real to-dos on every workbench.

``load_cases(summary)`` adds, once:

- about twenty cases made through the case services, with their materials (small PDFs), notices
  and messages, for the demo accounts ``citizen``, ``company`` (acting for its enterprise) and
  ``agent`` on items of 临江市市场监督管理局, taken by ``clerk``, ``reviewer`` and ``approver``
  to every state: waiting at the window, in correction, in review, deciding, producing,
  delivering, finished, refused, not accepted, withdrawn, in a special procedure and with an
  extension waiting for approval;
- ``SYNTHETIC`` generated cases (``yiwang.cases.synthetic``) over all published items, for the
  case store, the supervision figures and the history of the workbench.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from yiwang.cases import services, synthetic
from yiwang.cases.models import Case, CaseStep
from yiwang.core.errors import DomainError
from yiwang.core.models import AuditEntry

log = logging.getLogger(__name__)

SYNTHETIC = 3000
SEED = 2026
DEPARTMENT = "临江市市场监督管理局"

# (applicant, acting for the enterprise, where the case ends up)
PLAN = [
    ("citizen", False, "submitted"), ("citizen", False, "submitted"), ("company", True, "submitted"),
    ("agent", True, "submitted"), ("citizen", False, "correction"), ("agent", True, "correction"),
    ("citizen", False, "in_review"), ("company", True, "in_review"), ("agent", True, "in_review"),
    ("citizen", False, "deciding"), ("company", True, "deciding"), ("agent", True, "producing"),
    ("citizen", False, "delivering"), ("company", True, "delivering"), ("citizen", False, "completed"),
    ("company", True, "completed"), ("agent", True, "refused"), ("citizen", False, "not_accepted"),
    ("company", True, "withdrawn"), ("citizen", False, "suspended"), ("agent", True, "extension"),
]

# Outcomes that take a case from submission to each state, as (staff account, step key, outcome).
ACCEPTED = [("clerk", "pre_review", "accept")]
ROUTES = {
    "submitted": [], "correction": [("clerk", "pre_review", "correct")],
    "in_review": ACCEPTED, "suspended": ACCEPTED, "extension": ACCEPTED,
    "deciding": ACCEPTED + [("reviewer", "review", "pass")],
    "producing": ACCEPTED + [("reviewer", "review", "pass"), ("approver", "decide", "approve")],
    "delivering": ACCEPTED + [("reviewer", "review", "pass"), ("approver", "decide", "approve"),
                              ("reviewer", "produce", "produced")],
    "completed": ACCEPTED + [("reviewer", "review", "pass"), ("approver", "decide", "approve"),
                             ("reviewer", "produce", "produced"), ("clerk", "deliver", "delivered")],
    "refused": ACCEPTED + [("reviewer", "review", "pass"), ("approver", "decide", "refuse"),
                           ("clerk", "deliver", "delivered")],
    "not_accepted": [("clerk", "pre_review", "reject")], "withdrawn": ACCEPTED,
}
OPINIONS = {"accept": "材料齐全，符合法定形式，予以受理。", "pass": "经审查，符合许可条件，建议准予。",
            "approve": "同意，准予许可。", "produced": "证照已制作完成。", "delivered": "申请人已到窗口领取。",
            "reject": "申请事项不属于本机关职权范围，请向属地区县市场监管部门申请。",
            "refuse": "经现场核查，经营场所与申请材料不符，依据《中华人民共和国行政许可法》第三十八条不予许可。"}
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")


def _pdf(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(f"{name}.pdf", PDF, content_type="application/pdf")


def _items(legal: bool) -> list:
    from yiwang.catalog.models import ServiceItem

    qs = (ServiceItem.objects.filter(state=ServiceItem.State.ACTIVE, published_version__isnull=False,
                                     organization__name=DEPARTMENT)
          .select_related("published_version").order_by("implementation_code"))
    out = []
    for item in qs:
        objects = set(item.published_version.service_objects or [])
        if (legal and objects - {"1"}) or (not legal and "1" in objects):
            out.append(item)
    return out


def _form(item, person, enterprise) -> dict:
    from yiwang.applications import formschema
    from yiwang.applications.selectors import form_definition
    from yiwang.identity.models import LegalPersonRecord

    sources = {"applicant.name": person.name, "applicant.id_number": person.id_number,
               "applicant.mobile": person.mobile, "applicant.address": person.address}
    if enterprise is not None:
        record = LegalPersonRecord.objects.filter(uscc=enterprise.uscc).first()
        sources.update({"enterprise.name": enterprise.name, "enterprise.uscc": enterprise.uscc,
                        "enterprise.legal_representative": record.legal_rep_name if record else person.name,
                        "enterprise.address": record.address if record else ""})
    definition = form_definition(item.published_version, "legal" if enterprise is not None else "person")
    data = formschema.prefill(definition, sources)
    data.setdefault("description", f"申请办理{item.published_version.name}")
    if not data.get("address"):
        data["address"] = "临江市滨江区江滨路18号"
    return data


def _submit(user, item, enterprise):
    person = user.person
    files = {m.pk: _pdf(m.name[:40]) for m in item.published_version.materials.all()}
    return services.submit_application(user, item=item, form_data=_form(item, person, enterprise), files=files,
                                       enterprise=enterprise, delivery=Case.Delivery.WINDOW)


def _act(staff, case: Case, key: str, outcome: str) -> Case:
    case = Case.objects.get(pk=case.pk)
    step = case.steps.filter(state=CaseStep.State.OPEN, key=key).first()
    if step is None:  # a process without this step (即办件 has no 审查 or 制证)
        return case
    problems = None
    if outcome == "correct":
        first = case.item_version.materials.first()
        problems = [{"material": first.pk if first else None, "text": "复印件不清晰，请上传清晰的扫描件"},
                    {"material": None, "text": "申请书缺少申请人签字"}]
    return services.act(staff, case, step_id=step.pk, outcome=outcome, opinion=OPINIONS.get(outcome, ""),
                        lock_version=case.lock_version, problems=problems)


def load_service_cases(summary) -> int:
    """The demo accounts' own cases, through the services (skipped when they already have some)."""
    from yiwang.identity.models import Enterprise

    User = get_user_model()
    users = {u.username: u for u in User.objects.filter(
        username__in=["citizen", "company", "agent", "clerk", "reviewer", "approver"])}
    if len(users) < 6 or Case.objects.filter(applicant_user__username__in=["citizen", "company", "agent"]).exists():
        return 0
    enterprise = Enterprise.objects.filter(legal_representative__user=users["company"]).first()
    person_items, legal_items = _items(False), _items(True)
    if not person_items or not legal_items or enterprise is None:
        return 0
    made = 0
    for n, (who, legal, target) in enumerate(PLAN):
        pool = legal_items if legal else person_items
        item = pool[n % len(pool)]
        with transaction.atomic():
            case = _submit(users[who], item, enterprise if legal else None)
            for staff, key, outcome in ROUTES[target]:
                case = _act(users[staff], case, key, outcome)
            if target == "withdrawn":
                services.withdraw(users[who], case, reason="经营计划调整，暂不办理")
            elif target == "suspended" and case.accepted_at:
                services.suspend(users["reviewer"], case, kind="site", expected_days=5,
                                 reason="需对经营场所进行现场勘查")
            elif target == "extension" and case.accepted_at:
                services.request_extension(users["reviewer"], case, days=5,
                                           reason="申请人补充提交的检验报告需复核，需延长办理时限")
        made += 1
    return made


def load_cases(summary) -> None:
    """Demo cases: the accounts' own (through the services), then the generated case store."""
    try:
        summary.created["办件"] += load_service_cases(summary)
    except DomainError as exc:  # the demo catalog no longer fits the plan: keep the rest of the demo
        log.warning("演示办件未能创建 / demo cases not created: %s", exc)
    if not AuditEntry.objects.filter(action=synthetic.AUDIT_ACTION).exists():
        summary.created["办件"] += synthetic.generate(SYNTHETIC, seed=SEED).created
