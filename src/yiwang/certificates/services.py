"""电子证照 use cases: the catalog of types, issuance, the lifecycle and verification.

Every function that writes runs in one transaction, writes its audit entry and, for a
certificate, a :class:`CertificateEvent`. Verification reads only and is what the public page,
the API and the office share.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from typing import Any
from urllib.parse import quote

import jsonschema
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from yiwang.certificates import identifiers, payload
from yiwang.certificates import pdf as certificate_pdf
from yiwang.certificates.models import (
    Certificate,
    CertificateEvent,
    CertificateType,
    FieldType,
    HolderCodeType,
    HolderKind,
    Status,
    Template,
)
from yiwang.core import audit, masking, validators
from yiwang.core.errors import Conflict, NotFound, NotPermitted, StateError, ValidationFailed
from yiwang.core.models import Organization
from yiwang.identity import scoping
from yiwang.identity.models import Enterprise, Person, Role

Kind = CertificateEvent.Kind
FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MASK_KINDS = ("", *masking.MASKERS)
SOURCE_PREFIXES = ("form.", "applicant.", "enterprise.", "case.", "item.", "org.", "=")
REASON_MAX = 300


def _today() -> dt.date:
    return timezone.localdate()


def _actor_label(user) -> str:
    staff = scoping.staff_of(user)
    if staff is not None:
        return staff.display_name or user.get_username()
    if user is None:
        return "系统"
    person = getattr(user, "person", None)
    return getattr(person, "name", "") or user.get_username()


def _audit(action: str, cert: Certificate, user, before: dict | None = None, detail: dict | None = None) -> None:
    # The identifier (73 characters) is longer than the trail's object id: it goes into the detail.
    audit.record(f"certificates.{action}", "Certificate", cert.pk, before=before, after=snapshot(cert),
                 detail={"identifier": cert.identifier, **(detail or {})},
                 actor=audit.actor_name(user) if user is not None else None)


def snapshot(cert: Certificate) -> dict[str, Any]:
    """What the audit digest covers (the holder's code only as its blind index)."""
    return {"identifier": cert.identifier, "type": cert.certificate_type_id, "status": cert.status,
            "holder": cert.holder_code_index, "data": cert.data, "valid_from": cert.valid_from,
            "valid_to": cert.valid_to, "version": cert.version, "lock": cert.lock_version, "pdf": cert.pdf_sha256}


def _event(cert: Certificate, kind: str, user, *, reason: str = "", before: str = "", detail: dict | None = None
           ) -> CertificateEvent:
    return CertificateEvent.objects.create(
        certificate=cert, kind=kind, reason=reason[:REASON_MAX], from_status=before, to_status=cert.status,
        actor=user if getattr(user, "pk", None) else None, actor_name=_actor_label(user)[:60], detail=detail or {})


# ============================================================================ permissions
def can_manage_types(user, organization_id: int | None = None) -> bool:
    """Platform administrators, and catalog administrators for their own organisations."""
    if organization_id is None:
        return scoping.has_role(user, Role.CATALOG_ADMIN)
    return scoping.can_act_for(user, organization_id, Role.CATALOG_ADMIN)


ACT_ROLES = (Role.APPROVER, Role.ORG_ADMIN)


def can_act_on(user, cert: Certificate) -> bool:
    """Lifecycle actions: approvers and organisation administrators of the issuing organisation."""
    return any(scoping.can_act_for(user, cert.issuing_organization_id, role) for role in ACT_ROLES)


def can_see(user, cert: Certificate) -> bool:
    return scoping.can_act_for(user, cert.issuing_organization_id)


# ============================================================================ catalog (types)
def _fields_errors(fields: Any) -> list[str]:
    if not isinstance(fields, list) or not fields:
        return ["至少定义一个照面信息项 / define at least one field"]
    errors, seen = [], set()
    for i, f in enumerate(fields, start=1):
        if not isinstance(f, dict):
            errors.append(f"第{i}项格式不正确 / field {i} must be an object")
            continue
        name = str(f.get("name", ""))
        if not FIELD_NAME_RE.match(name):
            errors.append(f"第{i}项的标识“{name}”应为小写字母开头的字母、数字或下划线 / field {i}: name must be "
                          "lower-case letters, digits or underscores")
        elif name in seen:
            errors.append(f"标识“{name}”重复 / duplicate field name {name}")
        seen.add(name)
        if not str(f.get("label", "")).strip():
            errors.append(f"第{i}项缺少名称 / field {i} needs a label")
        if f.get("type", FieldType.TEXT) not in FieldType.values:
            errors.append(f"第{i}项的类型不正确 / field {i}: unknown type")
        if f.get("mask", "") not in MASK_KINDS:
            errors.append(f"第{i}项的脱敏方式不正确 / field {i}: unknown mask kind")
    return errors


def parse_fields_text(text: str) -> list[dict[str, Any]]:
    """Fields typed in the office form, one a line: ``name|label|type|flags|mask``.

    flags: ``required``/``optional`` and ``key``; e.g. ``legal_rep|法定代表人|string|required,key|name``.
    """
    fields = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")] + [""] * 5
        flags = {x.strip() for x in parts[3].split(",") if x.strip()}
        fields.append({"name": parts[0], "label": parts[1], "type": parts[2] or FieldType.TEXT,
                       "required": "optional" not in flags, "key": "key" in flags, "mask": parts[4]})
    return fields


def fields_text(fields: list[dict[str, Any]]) -> str:
    lines = []
    for f in fields or ():
        flags = ["required" if f.get("required", True) else "optional"] + (["key"] if f.get("key") else [])
        lines.append("|".join([f["name"], f.get("label", ""), f.get("type", FieldType.TEXT), ",".join(flags),
                               f.get("mask", "")]).rstrip("|"))
    return "\n".join(lines)


def _check_type_data(data: dict[str, Any], *, instance: CertificateType | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not str(data.get("name", "")).strip():
        errors["name"] = ["请填写证照名称 / name is required"]
    defining = data.get("defining_organization")
    code = str(data.get("type_code", "")).strip().upper()
    if not re.fullmatch(r"[0-9A-Z]{18}[0-9]{3}", code):
        errors["type_code"] = ["证照类型代码为定义机构的统一社会信用代码加3位顺序码 / type code: the defining "
                               "organisation's USCC and a 3-digit sequence"]
    elif defining is not None and code[:18] != defining.uscc:
        errors["type_code"] = [f"类型代码应以定义机构的信用代码 {defining.uscc} 开头 / type code must start with "
                               "the defining organisation's USCC"]
    elif CertificateType.objects.filter(type_code=code).exclude(pk=getattr(instance, "pk", None)).exists():
        errors["type_code"] = ["该类型代码已被使用 / type code already in use"]
    if data.get("holder_kind") not in HolderKind.values:
        errors["holder_kind"] = ["请选择持证主体类别 / choose the holder kind"]
    if data.get("template", Template.PERMIT) not in Template.values:
        errors["template"] = ["请选择版式 / choose a layout"]
    years = data.get("validity_years", 0)
    if not isinstance(years, int) or not 0 <= years <= 100:
        errors["validity_years"] = ["有效期为 0–100 年（0 为长期）/ validity: 0–100 years (0 = permanent)"]
    field_errors = _fields_errors(data.get("fields"))
    if field_errors:
        errors["fields"] = field_errors
    mapping = data.get("form_mapping") or {}
    if not isinstance(mapping, dict):
        errors["form_mapping"] = ["数据来源格式不正确 / mapping must be an object"]
    else:
        names = {f.get("name") for f in data.get("fields") or () if isinstance(f, dict)}
        bad = [k for k, v in mapping.items() if k not in names or not all(
            s.startswith(SOURCE_PREFIXES) for s in str(v).split("|"))]
        if bad:
            errors["form_mapping"] = [f"数据来源无法识别：{'、'.join(bad)} / unknown field or source"]
    return errors


TYPE_FIELDS = ("name", "type_code", "defining_organization", "issuing_organization", "holder_kind", "fields",
               "form_mapping", "validity_years", "template", "stands_for_materials", "description", "is_active")


@transaction.atomic
def save_type(user, *, instance: CertificateType | None = None, basic_items=None, service_items=None,
              lock_version: int | None = None, **data: Any) -> CertificateType:
    """Create or change a certificate type (证照目录). Only its managers (``user=None``: the platform
    itself, e.g. the demo loader); the code cannot change once used."""
    issuing = data.get("issuing_organization") or getattr(instance, "issuing_organization", None)
    if issuing is None or (user is not None and not can_manage_types(user, issuing.pk)):
        raise NotPermitted("只能管理本机构颁发的证照类型 / you may only manage your organisation's types")
    if instance is not None:
        instance = CertificateType.objects.select_for_update().get(pk=instance.pk)
        if lock_version is not None and instance.lock_version != lock_version:
            raise Conflict("该证照类型已被他人修改，请刷新后重试 / changed by someone else; reload and try again")
        if user is not None and not can_manage_types(user, instance.issuing_organization_id):
            raise NotPermitted("只能管理本机构颁发的证照类型 / you may only manage your organisation's types")
        merged = {k: getattr(instance, k) for k in TYPE_FIELDS} | data
        if merged["type_code"] != instance.type_code and instance.certificates.exists():
            raise ValidationFailed("填写有误", fields={"type_code": [
                "已有证照的类型不能修改类型代码 / the code of a type with certificates cannot change"]})
    else:
        merged = {"form_mapping": {}, "validity_years": 0, "template": Template.PERMIT, "stands_for_materials": [],
                  "description": "", "is_active": True} | data
    merged["type_code"] = str(merged.get("type_code", "")).strip().upper()
    errors = _check_type_data(merged, instance=instance)
    if errors:
        raise ValidationFailed("填写有误，请按提示修改 / please correct the marked fields", fields=errors)
    before = {k: str(getattr(instance, k)) for k in TYPE_FIELDS} if instance else None
    obj = instance or CertificateType()
    for k in TYPE_FIELDS:
        setattr(obj, k, merged[k])
    obj.lock_version = (obj.lock_version or 0) + (1 if instance else 0)
    obj.save()
    if basic_items is not None:
        obj.basic_items.set(basic_items)
    if service_items is not None:
        obj.service_items.set(service_items)
    audit.record("certificates.type.update" if instance else "certificates.type.create", "CertificateType",
                 obj.type_code, before=before, after={k: str(getattr(obj, k)) for k in TYPE_FIELDS},
                 actor=audit.actor_name(user) if user is not None else None)
    return obj


# ============================================================================ issuance
def validate_data(certificate_type: CertificateType, data: Any) -> dict[str, Any]:
    """The data checked against the type's schema; ValidationFailed names each wrong field."""
    if not isinstance(data, dict):
        raise ValidationFailed("照面信息格式不正确 / data must be an object", fields={"data": ["应为对象 / object"]})
    cleaned = {k: v for k, v in data.items() if v not in (None, "")}
    validator = jsonschema.Draft202012Validator(certificate_type.json_schema(),
                                                format_checker=jsonschema.FormatChecker())
    labels = certificate_type.field_labels()
    errors: dict[str, list[str]] = {}
    for err in validator.iter_errors(cleaned):
        if err.validator == "required":
            name = err.message.split("'")[1] if "'" in err.message else "data"
            errors.setdefault(name, []).append(f"{labels.get(name, name)}：必须填写 / required")
        elif err.validator == "additionalProperties":
            errors.setdefault("data", []).append(f"包含未定义的信息项 / unknown fields: {err.message}")
        else:
            name = str(err.path[0]) if err.path else "data"
            errors.setdefault(name, []).append(f"{labels.get(name, name)}：格式不正确 / invalid ({err.validator})")
    if errors:
        raise ValidationFailed("照面信息不符合证照类型的要求 / data does not fit the certificate type", fields=errors)
    return cleaned


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def default_valid_to(certificate_type: CertificateType, valid_from: dt.date) -> dt.date | None:
    if certificate_type.is_permanent:
        return None
    return _add_years(valid_from, certificate_type.validity_years) - dt.timedelta(days=1)


def _next_serial(type_code: str, year: int) -> str:
    from yiwang.cases.numbering import next_value  # the platform's one atomic counter upsert

    return identifiers.serial_for(year, next_value("certificates_serialcounter", ("type_code", "year"), (type_code, year)))


def verify_url(qr_payload: str) -> str:
    base = getattr(settings, "YIWANG_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
    return f"{base}/certificates/verify/?p={quote(qr_payload, safe='.-_')}"


def _mask(value: Any, kind: str) -> str:
    text = "" if value is None else str(value)
    return masking.MASKERS[kind](text) if kind in masking.MASKERS else text


def masked_holder(cert: Certificate) -> str:
    """The holder as verification shows it: a person's name masked, an enterprise's in full."""
    return masking.mask_name(cert.holder_name) if cert.holder_kind == HolderKind.PERSON else cert.holder_name


def key_fields(certificate_type: CertificateType, data: dict[str, Any]) -> dict[str, str]:
    """Key fields as the QR code and public verification show them (personal values masked)."""
    return {f["name"]: _mask(data.get(f["name"], ""), f.get("mask", ""))
            for f in certificate_type.fields if f.get("key") and data.get(f["name"]) not in (None, "")}


def claims_for(cert: Certificate) -> dict[str, Any]:
    return {"i": cert.identifier, "t": cert.certificate_type.type_code, "n": cert.certificate_type.name,
            "h": masked_holder(cert), "f": key_fields(cert.certificate_type, cert.data),
            "vf": cert.valid_from.isoformat(), "vt": cert.valid_to.isoformat() if cert.valid_to else "",
            "ia": cert.issued_on.isoformat()}


def _validity_text(cert: Certificate) -> str:
    if cert.valid_to is None:
        return f"{cert.valid_from:%Y年%m月%d日} 至 长期"
    return f"{cert.valid_from:%Y年%m月%d日} 至 {cert.valid_to:%Y年%m月%d日}"


def render_pdf(cert: Certificate) -> bytes:
    """The certificate PDF (unsigned) for its current data and QR payload."""
    ctype = cert.certificate_type
    person = cert.holder_kind == HolderKind.PERSON
    rows = [(label, str(value)) for label, value in cert.face_rows()]
    face = certificate_pdf.Face(
        title=ctype.name, template=ctype.template, number=cert.number, identifier=cert.identifier,
        holder_label="持证人" if person else "名称", holder_name=cert.holder_name,
        holder_code_label="公民身份号码" if person else "统一社会信用代码",
        holder_code=cert.holder_code,
        rows=rows, issuer=cert.issuing_organization.name, issued_on=f"{cert.issued_on:%Y年%m月%d日}",
        validity=_validity_text(cert), qr_text=verify_url(cert.qr_payload), version=cert.version)
    return certificate_pdf.render(face)


def sign_pdf(cert: Certificate, data: bytes) -> bytes:
    """Sealed (PAdES) with the issuing organisation's document seal."""
    from yiwang.seals import services as seal_services

    return seal_services.seal_document(data, cert.issuing_organization,
                                       reason=f"电子证照：{cert.certificate_type.name} {cert.number}")


def _produce_files(cert: Certificate) -> None:
    """QR payload, rendered and signed PDF, its digest: everything made from the record."""
    cert.qr_payload, cert.kid = payload.make(claims_for(cert))
    signed = sign_pdf(cert, render_pdf(cert))
    cert.pdf_sha256 = hashlib.sha256(signed).hexdigest()
    cert.pdf.save(f"{cert.serial}-{cert.version:03d}.pdf", ContentFile(signed), save=False)


@dataclasses.dataclass
class Holder:
    kind: str
    name: str
    code: str
    person: Person | None = None
    enterprise: Enterprise | None = None


def resolve_holder(certificate_type: CertificateType, holder: Person | Enterprise | None = None, *,
                   name: str = "", code: str = "") -> Holder:
    """Who the certificate is for: an account (person or enterprise) or a name and code only."""
    kind = certificate_type.holder_kind
    if isinstance(holder, Person):
        if kind != HolderKind.PERSON:
            raise ValidationFailed("该证照颁发给法人 / this certificate is for enterprises",
                                   fields={"holder": ["持证主体应为法人 / the holder must be an enterprise"]})
        return Holder(kind, holder.name, holder.id_number, person=holder)
    if isinstance(holder, Enterprise):
        if kind != HolderKind.ENTERPRISE:
            raise ValidationFailed("该证照颁发给自然人 / this certificate is for persons",
                                   fields={"holder": ["持证主体应为自然人 / the holder must be a person"]})
        return Holder(kind, holder.name, holder.uscc, enterprise=holder)
    name, code = (name or "").strip(), "".join((code or "").split()).upper()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["holder_name"] = ["请填写持证主体名称 / holder name is required"]
    try:
        if kind == HolderKind.PERSON:
            validators.check_citizen_id(code)
        else:
            validators.check_uscc(code)
    except validators.InvalidCode as exc:
        errors["holder_code"] = [str(exc)]
    if errors:
        raise ValidationFailed("持证主体信息有误 / holder details are wrong", fields=errors)
    # An account with that code, when there is one, so the certificate reaches its wallet.
    if kind == HolderKind.PERSON:
        from yiwang.core.fields import blind_match

        person = Person.objects.filter(blind_match(Person, "id_number", code)).first()
        return Holder(kind, name, code, person=person)
    return Holder(kind, name, code, enterprise=Enterprise.objects.filter(uscc=code).first())


def _create(certificate_type: CertificateType, holder: Holder, data: dict[str, Any], user, *, case=None,
            issued_on: dt.date | None = None, valid_from: dt.date | None = None, valid_to: dt.date | None = None,
            serial: str | None = None, version: int = 1, previous: Certificate | None = None,
            number: str | None = None, organization: Organization | None = None) -> Certificate:
    issued_on = issued_on or _today()
    valid_from = valid_from or issued_on
    if valid_to is None and previous is None:
        valid_to = default_valid_to(certificate_type, valid_from)
    if valid_to is not None and valid_to < valid_from:
        raise ValidationFailed("有效期有误", fields={"valid_to": ["有效期至不能早于有效期起 / valid-to before valid-from"]})
    org = organization or certificate_type.issuing_organization
    serial = serial or _next_serial(certificate_type.type_code, issued_on.year)
    cert = Certificate(
        identifier=identifiers.build(certificate_type.type_code, org.uscc, serial, version),
        certificate_type=certificate_type, number=number or f"{certificate_type.type_code[-3:]}{serial}",
        serial=serial, version=version, holder_kind=holder.kind, person=holder.person,
        enterprise=holder.enterprise, holder_name=holder.name, holder_code=holder.code,
        holder_code_type=certificate_type.holder_code_type, issuing_organization=org,
        area_code=org.region.code if org.region_id else "", issued_on=issued_on, valid_from=valid_from,
        valid_to=valid_to, case=case, previous=previous, status=Status.VALID,
        created_by=user if getattr(user, "pk", None) else None)
    cert.data = data
    _produce_files(cert)
    cert.save(force_insert=True)
    return cert


@transaction.atomic
def issue(certificate_type: CertificateType, *, data: dict[str, Any], holder: Person | Enterprise | None = None,
          holder_name: str = "", holder_code: str = "", user=None, case=None, issued_on: dt.date | None = None,
          valid_from: dt.date | None = None, valid_to: dt.date | None = None, check_permission: bool = True,
          number: str | None = None, organization: Organization | None = None) -> Certificate:
    """颁发: a new certificate (version 001) — record, identifier, QR payload, sealed PDF, audit, event.

    ``number`` keeps the number printed on a historic certificate (存量证照导入); by default it is made
    from the type code and the serial. ``organization`` is the issuer when it is not the type's own
    (a type defined once is issued by every county's implementing organisation)."""
    if not certificate_type.is_active:
        raise StateError("该证照类型已停用 / this certificate type is not in use")
    issuer = organization or certificate_type.issuing_organization
    if check_permission and user is not None and not any(
            scoping.can_act_for(user, issuer.pk, r) for r in ACT_ROLES):
        raise NotPermitted("只有颁发机构的审批人员可以颁发证照 / only the issuing organisation's approvers may issue")
    data = validate_data(certificate_type, data)
    who = resolve_holder(certificate_type, holder, name=holder_name, code=holder_code)
    cert = _create(certificate_type, who, data, user, case=case, issued_on=issued_on, valid_from=valid_from,
                   valid_to=valid_to, number=number, organization=issuer)
    _event(cert, Kind.ISSUED, user, detail={"case": case.number} if case is not None else {})
    _audit("issue", cert, user, detail={"type": certificate_type.type_code, "case": getattr(case, "number", "")})
    return cert


def type_for_item(item) -> CertificateType | None:
    """The certificate an item's approval produces, if any."""
    return (CertificateType.objects.filter(is_active=True)
            .filter(Q(service_items=item) | Q(basic_items=item.basic_item_id))
            .select_related("issuing_organization", "issuing_organization__region").order_by("pk").first())


def _case_sources(case) -> dict[str, Any]:
    import json

    try:
        form = json.loads(case.form_data or "{}")
    except ValueError:
        form = {}
    decided = timezone.localtime(case.decided_at).date() if case.decided_at else _today()
    sources: dict[str, Any] = {f"form.{k}": v for k, v in form.items()} if isinstance(form, dict) else {}
    sources.update({"applicant.name": case.applicant_name, "applicant.code": case.applicant_id_number,
                    "case.number": case.number, "case.decided_on": decided.isoformat(),
                    "item.name": case.item_name, "org.name": case.organization.name})
    person = getattr(case.applicant_user, "person", None)
    if person is not None:
        sources.update({"applicant.address": person.address, "applicant.mobile": person.mobile})
    if case.enterprise_id:
        from yiwang.identity.models import LegalPersonRecord

        ent = case.enterprise
        record = LegalPersonRecord.objects.filter(uscc=ent.uscc).first()
        sources.update({"enterprise.name": ent.name, "enterprise.uscc": ent.uscc,
                        "enterprise.legal_representative": record.legal_rep_name if record else "",
                        "enterprise.address": record.address if record else "",
                        "enterprise.kind": record.kind if record else "",
                        "enterprise.registered_on": record.registered_on.isoformat()
                        if record and record.registered_on else ""})
    return sources


def data_from_case(certificate_type: CertificateType, case) -> dict[str, Any]:
    """Each field from its mapped sources (``a|b|=text``: the first that has a value)."""
    sources = _case_sources(case)
    data: dict[str, Any] = {}
    for f in certificate_type.fields:
        chain = str(certificate_type.form_mapping.get(f["name"], f"form.{f['name']}")).split("|")
        for source in chain:
            value = source[1:] if source.startswith("=") else sources.get(source)
            if value not in (None, ""):
                if f.get("type") == FieldType.INTEGER:
                    try:
                        value = int(value)
                    except (TypeError, ValueError):
                        continue
                data[f["name"]] = value if f.get("type") in (FieldType.INTEGER, FieldType.MONEY) else str(value)
                break
    return data


def issue_for_case(case, user) -> Certificate | None:
    """制证: the certificate an approved case's item produces, made from the case (once per case).

    Returns None when the case is not approved or its item produces no certificate. The case's
    own services call this from the result-production step, inside the step's transaction.
    """
    from yiwang.cases.models import Case

    if case.decision != Case.Decision.APPROVED:
        return None
    ctype = type_for_item(case.item)
    if ctype is None:
        return None
    existing = Certificate.objects.filter(case=case, certificate_type=ctype).order_by("version").first()
    if existing is not None:
        return existing
    if ctype.holder_kind == HolderKind.ENTERPRISE:
        if case.enterprise_id:
            holder, name, code = case.enterprise, "", ""
        elif case.applicant_id_type == HolderCodeType.USCC:
            holder, name, code = None, case.applicant_name, case.applicant_id_number
        else:
            raise ValidationFailed("无法制证：该证照颁发给法人，但本件申请人是自然人 / the certificate is for an "
                                   "enterprise but the applicant is a person",
                                   fields={"certificate": ["请确认申请主体 / check the applicant"]})
    else:
        person = getattr(case.applicant_user, "person", None)
        if person is not None and case.applicant_id_type == HolderCodeType.CITIZEN_ID and not case.enterprise_id:
            holder, name, code = person, "", ""
        else:
            holder, name, code = None, case.applicant_name, case.applicant_id_number
    data = data_from_case(ctype, case)
    try:
        return issue(ctype, data=data, holder=holder, holder_name=name, holder_code=code, user=user, case=case,
                     check_permission=False, organization=case.organization)
    except ValidationFailed as exc:
        missing = "；".join(m for msgs in exc.fields.values() for m in msgs)
        raise ValidationFailed(f"无法制证：申请信息不足以生成{ctype.name}（{missing}）/ the case lacks data the "
                               "certificate needs", fields={"certificate": [missing]}) from exc


# ============================================================================ lifecycle
def _locked(cert: Certificate, user, lock_version: int | None) -> Certificate:
    current = (Certificate.objects.select_for_update()
               .select_related("certificate_type", "issuing_organization", "issuing_organization__region")
               .get(pk=cert.pk))
    if user is not None and not can_act_on(user, current):  # None: the platform itself (sweeps, demo)
        raise NotPermitted("只有颁发机构的审批人员或机构管理员可以办理 / only the issuing organisation's approvers "
                           "or administrators may do this")
    if lock_version is not None and current.lock_version != int(lock_version):
        raise Conflict("该证照刚被他人处理，请刷新后查看最新状态 / someone else acted on this certificate first; "
                       "reload to see its state")
    return current


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed("请填写原因 / a reason is required", fields={"reason": ["请填写原因 / required"]})
    if len(text) > REASON_MAX:
        raise ValidationFailed("原因过长", fields={"reason": [f"不超过{REASON_MAX}字 / at most {REASON_MAX}"]})
    return text


def _set_status(cert: Certificate, status: str, reason: str) -> None:
    cert.status = status
    cert.status_reason = reason[:REASON_MAX]
    cert.status_changed_at = timezone.now()
    cert.lock_version += 1
    cert.save(update_fields=["status", "status_reason", "status_changed_at", "lock_version", "superseded",
                             "updated_at"])


def _new_version(cert: Certificate, user, data: dict[str, Any], reason: str, kind: str) -> Certificate:
    if cert.status not in (Status.VALID, Status.SUSPENDED):
        raise StateError(f"证照状态为“{cert.get_status_display()}”，不能{Kind(kind).label} / the certificate is "
                         f"{cert.get_status_display()}")
    if cert.superseded:
        raise StateError("该版本已被新版本取代 / this version has been superseded")
    if cert.version >= 999:
        raise StateError("版本号已用尽 / no version numbers left")
    holder = Holder(cert.holder_kind, cert.holder_name, cert.holder_code, cert.person, cert.enterprise)
    before = snapshot(cert)
    old_status = cert.status
    cert.superseded = True
    _set_status(cert, Status.EXPIRED, f"已{Kind(kind).label}为第 {cert.version + 1} 版：{reason}")
    _event(cert, Kind.SUPERSEDED, user, reason=reason, before=old_status)
    _audit("supersede", cert, user, before=before)
    new = _create(cert.certificate_type, holder, data, user, case=cert.case, issued_on=_today(),
                  organization=cert.issuing_organization,
                  valid_from=cert.valid_from, valid_to=cert.valid_to, serial=cert.serial, version=cert.version + 1,
                  previous=cert, number=cert.number)
    _event(new, kind, user, reason=reason, detail={"previous": cert.identifier})
    _audit(kind, new, user, detail={"previous": cert.identifier})
    return new


@transaction.atomic
def change(user, cert: Certificate, *, data: dict[str, Any], reason: str, lock_version: int | None = None
           ) -> Certificate:
    """变更: a new version with changed data; the old version stops being valid."""
    reason = _reason(reason)
    cert = _locked(cert, user, lock_version)
    merged = validate_data(cert.certificate_type, {**cert.data, **data})
    if merged == cert.data:
        raise ValidationFailed("照面信息没有变化 / nothing changed", fields={"data": ["请修改至少一项 / change a field"]})
    return _new_version(cert, user, merged, reason, Kind.CHANGED)


@transaction.atomic
def reissue(user, cert: Certificate, *, reason: str, lock_version: int | None = None) -> Certificate:
    """补发: a new version with the same data (the old one, e.g. lost or damaged, stops being valid)."""
    reason = _reason(reason)
    cert = _locked(cert, user, lock_version)
    return _new_version(cert, user, cert.data, reason, Kind.REISSUED)


@transaction.atomic
def suspend(user, cert: Certificate, *, reason: str, lock_version: int | None = None) -> Certificate:
    """暂扣."""
    reason = _reason(reason)
    cert = _locked(cert, user, lock_version)
    if cert.status != Status.VALID:
        raise StateError(f"只有有效的证照可以暂扣，当前为“{cert.get_status_display()}” / only a valid certificate "
                         "can be suspended")
    before = snapshot(cert)
    _set_status(cert, Status.SUSPENDED, reason)
    _event(cert, Kind.SUSPENDED, user, reason=reason, before=Status.VALID)
    _audit("suspend", cert, user, before=before)
    return cert


@transaction.atomic
def resume(user, cert: Certificate, *, reason: str, lock_version: int | None = None) -> Certificate:
    """发还 (恢复有效): ends a suspension; past its end date the certificate becomes 失效 instead."""
    reason = _reason(reason)
    cert = _locked(cert, user, lock_version)
    if cert.status != Status.SUSPENDED:
        raise StateError("只有暂扣中的证照可以恢复 / only a suspended certificate can be resumed")
    before = snapshot(cert)
    expired = cert.valid_to is not None and cert.valid_to < _today()
    _set_status(cert, Status.EXPIRED if expired else Status.VALID, reason)
    _event(cert, Kind.EXPIRED if expired else Kind.RESUMED, user, reason=reason, before=Status.SUSPENDED)
    _audit("resume", cert, user, before=before)
    return cert


def available_actions(cert: Certificate) -> list[str]:
    """The lifecycle actions the certificate's state allows, in the office's order."""
    if cert.superseded:
        return []
    if cert.status == Status.VALID:
        return ["suspend", "revoke", "withdraw", "cancel", "reissue", "change"]
    if cert.status == Status.SUSPENDED:
        return ["resume", "revoke", "withdraw", "cancel", "reissue", "change"]
    return []


END_STATES = {"revoke": (Status.REVOKED, Kind.REVOKED), "withdraw": (Status.WITHDRAWN, Kind.WITHDRAWN),
              "cancel": (Status.CANCELLED, Kind.CANCELLED)}


@transaction.atomic
def revoke(user, cert: Certificate, *, reason: str, lock_version: int | None = None, kind: str = "revoke"
           ) -> Certificate:
    """撤销 (``revoke``), 吊销 (``withdraw``) or 注销 (``cancel``): the certificate ends for good."""
    if kind not in END_STATES:
        raise ValidationFailed("处理方式不正确", fields={"kind": ["应为 revoke、withdraw 或 cancel / unknown kind"]})
    reason = _reason(reason)
    cert = _locked(cert, user, lock_version)
    if cert.status not in (Status.VALID, Status.SUSPENDED) or cert.superseded:
        raise StateError(f"证照状态为“{cert.get_status_display()}”，不能再{Kind(END_STATES[kind][1]).label} / "
                         "the certificate has already ended")
    status, event_kind = END_STATES[kind]
    before, old = snapshot(cert), cert.status
    _set_status(cert, status, reason)
    _event(cert, event_kind, user, reason=reason, before=old)
    _audit(kind, cert, user, before=before)
    return cert


def expire_due(today: dt.date | None = None, batch: int = 500) -> int:
    """到期失效: valid or suspended certificates past their valid-to date become 05 失效 (idempotent)."""
    today = today or _today()
    done = 0
    while True:
        with transaction.atomic():
            due = list(Certificate.objects.select_for_update()
                       .filter(status__in=(Status.VALID, Status.SUSPENDED), valid_to__lt=today)
                       .order_by("pk")[:batch])
            if not due:
                return done
            for cert in due:
                old = cert.status
                _set_status(cert, Status.EXPIRED, f"有效期已于 {cert.valid_to:%Y-%m-%d} 届满")
                _event(cert, Kind.EXPIRED, None, reason=cert.status_reason, before=old)
            audit.record("certificates.expire", "Certificate", f"{due[0].pk}..{due[-1].pk}",
                         detail={"identifiers": [c.identifier for c in due]}, actor="system")
            done += len(due)


# ============================================================================ verification
@dataclasses.dataclass
class Verification:
    """What a verification shows: the outcome, why, and the certificate with personal data masked."""

    outcome: str
    reason: str
    identifier: str = ""
    type_code: str = ""
    type_name: str = ""
    holder: str = ""
    fields: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    issuer: str = ""
    issued_on: str = ""
    valid_from: str = ""
    valid_to: str = ""
    status: str = ""
    status_label: str = ""
    version: int | None = None
    signature_checked: bool = False

    @property
    def label(self) -> str:
        return payload.Outcome.LABELS.get(self.outcome, self.outcome)

    @property
    def ok(self) -> bool:
        return self.outcome == payload.Outcome.VALID

    def as_dict(self) -> dict[str, Any]:
        return {"result": self.outcome, "result_label": self.label, "reason": self.reason,
                "identifier": self.identifier, "type_code": self.type_code, "type_name": self.type_name,
                "holder": self.holder, "key_fields": [{"label": k, "value": v} for k, v in self.fields],
                "issuer": self.issuer, "issued_on": self.issued_on, "valid_from": self.valid_from,
                "valid_to": self.valid_to, "status": self.status, "status_label": self.status_label,
                "version": self.version, "signature_checked": self.signature_checked}


def online_outcome(cert: Certificate, today: dt.date | None = None) -> tuple[str, str]:
    """The certificate's state now, as a verification outcome and a reason."""
    today = today or _today()
    Result = payload.Outcome  # noqa: N806
    if cert.status == Status.VALID:
        if cert.valid_to is not None and cert.valid_to < today:
            return Result.EXPIRED, f"有效期已于 {cert.valid_to:%Y-%m-%d} 届满 / validity ended"
        if cert.valid_from > today:
            return Result.EXPIRED, f"自 {cert.valid_from:%Y-%m-%d} 起生效，尚未生效 / not yet valid"
        return Result.VALID, "证照有效 / the certificate is valid"
    if cert.status == Status.SUSPENDED:
        return Result.SUSPENDED, f"证照已被暂扣：{cert.status_reason} / suspended"
    if cert.status in (Status.REVOKED, Status.WITHDRAWN, Status.CANCELLED):
        english = {Status.REVOKED: "revoked", Status.WITHDRAWN: "withdrawn", Status.CANCELLED: "cancelled"}
        return Result.REVOKED, f"证照已{cert.get_status_display()}：{cert.status_reason} / {english[cert.status]}"
    if cert.superseded:
        newer = cert.next_versions.order_by("-version").first()
        tail = f"，请使用第 {newer.version} 版" if newer else ""
        return Result.EXPIRED, f"该版本已失效（{cert.status_reason}）{tail} / superseded by a newer version"
    return Result.EXPIRED, f"证照已失效：{cert.status_reason} / no longer valid"


def _describe(cert: Certificate, outcome: str, reason: str, *, signature_checked: bool) -> Verification:
    ctype = cert.certificate_type
    labels = ctype.field_labels()
    return Verification(
        outcome=outcome, reason=reason, identifier=cert.identifier, type_code=ctype.type_code,
        type_name=ctype.name, holder=masked_holder(cert),
        fields=[(labels.get(k, k), v) for k, v in key_fields(ctype, cert.data).items()],
        issuer=cert.issuing_organization.name, issued_on=cert.issued_on.isoformat(),
        valid_from=cert.valid_from.isoformat(), valid_to=cert.valid_to.isoformat() if cert.valid_to else "长期",
        status=cert.status, status_label=cert.get_status_display(), version=cert.version,
        signature_checked=signature_checked)


def _find(identifier: str) -> Certificate | None:
    return (Certificate.objects.select_related("certificate_type", "issuing_organization")
            .filter(identifier=identifier).first())


def verify(*, qr: str = "", identifier: str = "", today: dt.date | None = None) -> Verification:
    """核验: a scanned/pasted QR payload (signature checked, then the online status) or an identifier."""
    Result = payload.Outcome  # noqa: N806
    if (qr or "").strip():
        offline = payload.check_offline(qr, today=today)
        if offline.outcome in (Result.MALFORMED, Result.UNKNOWN_KEY, Result.FORGED):
            return Verification(offline.outcome, offline.reason)
        cert = _find(offline.claims.get("i", ""))
        if cert is None:
            return Verification(Result.NOT_FOUND, "签名有效，但平台上没有该证照的记录 / genuine signature but no such "
                                             "certificate on record", identifier=offline.claims.get("i", ""))
        outcome, reason = online_outcome(cert, today)
        return _describe(cert, outcome, reason, signature_checked=True)
    text = (identifier or "").strip().upper()
    if not text:
        return Verification(Result.MALFORMED, "请扫描二维码、粘贴二维码内容或输入证照标识 / give a QR payload or an identifier")
    try:
        identifiers.parse(text)
    except identifiers.InvalidIdentifier as exc:
        return Verification(Result.MALFORMED, str(exc), identifier=text[:120])
    cert = _find(text)
    if cert is None:
        return Verification(Result.NOT_FOUND, "没有该证照标识的记录，请核对后重试 / no certificate with this identifier",
                            identifier=text)
    return verify_certificate(cert, today)


def verify_certificate(cert: Certificate, today: dt.date | None = None) -> Verification:
    """The online verification of a certificate already loaded (the holder's and the staff pages)."""
    outcome, reason = online_outcome(cert, today)
    return _describe(cert, outcome, reason, signature_checked=False)


def get_for_staff(user, pk: int) -> Certificate:
    cert = (Certificate.objects.select_related("certificate_type", "issuing_organization", "case", "previous")
            .filter(pk=pk).first())
    if cert is None or not can_see(user, cert):
        raise NotFound("证照不存在 / certificate not found")
    return cert


def organizations_managed(user) -> list[Organization]:
    ids = scoping.visible_organization_ids(user, Role.CATALOG_ADMIN)
    qs = Organization.objects.filter(is_active=True).order_by("region__code", "name")
    return list(qs if ids is None else qs.filter(pk__in=ids))
