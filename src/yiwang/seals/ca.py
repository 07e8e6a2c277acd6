"""The internal certificate authority (内部 CA): a root CA and an issuing CA, both P-256.

Both are created on first use and stored like signing keys (private keys encrypted under
``YIWANG_SEAL_KEK``). The issuing CA certifies every seal's key and every signing key; the
root's PEM is published at ``/.well-known/yiwang-root-ca.pem`` so relying parties can trust it.
SM2 subject keys are certified too: ``cryptography`` cannot hold an SM2 public key, so those
certificates are assembled with asn1crypto and signed (ECDSA P-256/SHA-256) by the issuing CA.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from yiwang.core import audit
from yiwang.seals import keystore
from yiwang.seals.models import AuthorityKey, KeyState

SM2_CURVE_OID = "1.2.156.10197.1.301"
ROOT_DAYS = 20 * 365
ISSUING_DAYS = 10 * 365
# An issuing CA this close to its end is replaced, so no certificate outlives its issuer.
ISSUING_MARGIN = dt.timedelta(days=400)


def _org_name() -> str:
    return getattr(settings, "YIWANG_CA_ORGANIZATION", "") or "一网办政务服务平台"


def _fit(value: str, limit: int = 64) -> str:
    """At most ``limit`` UTF-8 bytes (the X.520 upper bound as cryptography checks it): about 21
    Chinese characters. The full seal name stays in the database; the certificate's OU carries the code."""
    while len(value.encode()) > limit:
        value = value[:-1]
    return value


def _name(common_name: str, organization: str = "", unit: str = "") -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN")]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, _fit(organization)))
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _fit(unit)))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, _fit(common_name)))
    return x509.Name(attrs)


def _serial() -> int:
    return secrets.randbits(126) | (1 << 125)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """A CA certifies; an end entity (seal, signing key) signs with non-repudiation."""
    return x509.KeyUsage(digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def _ca_extensions(builder: x509.CertificateBuilder, public_key, issuer_key, path_length: int):
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
    builder = builder.add_extension(_key_usage(ca=True), critical=True)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    return builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), critical=False)


def _store(level: str, name: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> AuthorityKey:
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    authority = AuthorityKey.objects.create(
        level=level, name=name, private_key_encrypted=keystore.seal_private(scalar, f"ca:{level}:{cert.serial_number:x}"),
        certificate_pem=_pem(cert), serial=f"{cert.serial_number:x}",
        not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc)
    audit.record("seals.ca_created", "seals.AuthorityKey", authority.pk,
                 after={"level": level, "serial": authority.serial},
                 detail={"name": name, "not_after": authority.not_after.isoformat()})
    return authority


def _create_root() -> AuthorityKey:
    key = ec.generate_private_key(ec.SECP256R1())
    now = timezone.now().replace(microsecond=0)
    name = f"{_org_name()} 根CA"
    subject = _name(name, _org_name())
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
               .public_key(key.public_key()).serial_number(_serial())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=ROOT_DAYS)))
    builder = _ca_extensions(builder, key.public_key(), key.public_key(), path_length=1)
    return _store(AuthorityKey.Level.ROOT, name, key, builder.sign(key, hashes.SHA256()))


def _create_issuing(root: AuthorityKey) -> AuthorityKey:
    root_key, root_cert = private_key(root), certificate(root)
    key = ec.generate_private_key(ec.SECP256R1())
    now = timezone.now().replace(microsecond=0)
    name = f"{_org_name()} 电子印章签发CA"
    not_after = min(now + dt.timedelta(days=ISSUING_DAYS), root_cert.not_valid_after_utc)
    builder = (x509.CertificateBuilder().subject_name(_name(name, _org_name())).issuer_name(root_cert.subject)
               .public_key(key.public_key()).serial_number(_serial())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(not_after))
    builder = _ca_extensions(builder, key.public_key(), root_key.public_key(), path_length=0)
    return _store(AuthorityKey.Level.ISSUING, name, key, builder.sign(root_key, hashes.SHA256()))


def _current(level: str, create, margin: dt.timedelta = dt.timedelta(0)) -> AuthorityKey:
    now = timezone.now().replace(microsecond=0)
    for _ in range(3):
        found = AuthorityKey.objects.filter(level=level, state=KeyState.ACTIVE).first()
        if found and found.not_after - margin > now:
            return found
        try:
            with transaction.atomic():
                if found:
                    AuthorityKey.objects.filter(pk=found.pk, state=KeyState.ACTIVE).update(state=KeyState.RETIRED)
                    audit.record("seals.ca_retired", "seals.AuthorityKey", found.pk,
                                 detail={"level": level, "serial": found.serial})
                return create()
        except IntegrityError:  # another process created it first
            continue
    raise RuntimeError("could not establish the internal CA")  # pragma: no cover


def root() -> AuthorityKey:
    """The active root CA, created on first use."""
    return _current(AuthorityKey.Level.ROOT, _create_root, margin=dt.timedelta(days=ISSUING_DAYS))


def issuing() -> AuthorityKey:
    """The active issuing CA, created on first use (and replaced before it nears its end)."""
    return _current(AuthorityKey.Level.ISSUING, lambda: _create_issuing(root()), margin=ISSUING_MARGIN)


def private_key(authority: AuthorityKey) -> ec.EllipticCurvePrivateKey:
    scalar = keystore.open_private(authority.private_key_encrypted, f"ca:{authority.level}:{authority.serial}")
    return keystore.p256_private(scalar)


def certificate(authority_or_pem) -> x509.Certificate:
    pem = authority_or_pem if isinstance(authority_or_pem, str) else authority_or_pem.certificate_pem
    return x509.load_pem_x509_certificate(pem.encode())


def root_pem() -> str:
    return root().certificate_pem


def trusted_roots() -> list[x509.Certificate]:
    """Every root that may still anchor a certificate we issued (active and retired)."""
    return [certificate(a) for a in AuthorityKey.objects.filter(level=AuthorityKey.Level.ROOT)
            .exclude(state=KeyState.DESTROYED)]


@dataclass(frozen=True)
class Issued:
    pem: str
    serial: str
    not_after: dt.datetime


def issue(*, common_name: str, organization: str, unit: str, public_point: str, algorithm: str,
          days: int) -> Issued:
    """Certify a subject key (``ES256`` P-256 or ``SM2SM3``) with the issuing CA for ``days``."""
    ca = issuing()
    ca_key, ca_cert = private_key(ca), certificate(ca)
    now = timezone.now().replace(microsecond=0)
    not_before = now - dt.timedelta(minutes=5)
    not_after = min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    serial = _serial()
    if algorithm == "SM2SM3":
        pem = _issue_sm2(ca_key, ca_cert, common_name, organization, unit, public_point, serial, not_before,
                         not_after)
    else:
        subject_key = keystore.p256_public(public_point)
        builder = (x509.CertificateBuilder().subject_name(_name(common_name, organization, unit))
                   .issuer_name(ca_cert.subject).public_key(subject_key).serial_number(serial)
                   .not_valid_before(not_before).not_valid_after(not_after))
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        builder = builder.add_extension(_key_usage(ca=False), critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key), critical=False)
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                        critical=False)
        pem = _pem(builder.sign(ca_key, hashes.SHA256()))
    return Issued(pem=pem, serial=f"{serial:x}", not_after=not_after)


def _issue_sm2(ca_key, ca_cert, common_name, organization, unit, public_point, serial, not_before, not_after) -> str:
    point = bytes.fromhex(public_point)
    ca_asn1 = asn1_x509.Certificate.load(ca_cert.public_bytes(serialization.Encoding.DER))
    subject = asn1_x509.Name.load(_name(common_name, organization, unit).public_bytes())
    spki = asn1_keys.PublicKeyInfo({
        "algorithm": {"algorithm": "ec", "parameters": asn1_keys.ECDomainParameters(
            name="named", value=asn1_keys.NamedCurve(SM2_CURVE_OID))},
        "public_key": point,
    })
    ski = hashlib.sha1(point).digest()
    tbs = asn1_x509.TbsCertificate({
        "version": "v3",
        "serial_number": serial,
        "signature": {"algorithm": "sha256_ecdsa"},
        "issuer": ca_asn1.subject,
        "validity": {"not_before": asn1_x509.Time(name="utc_time", value=not_before),
                     "not_after": asn1_x509.Time(name="utc_time", value=not_after)},
        "subject": subject,
        "subject_public_key_info": spki,
        "extensions": [
            {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": False}},
            {"extn_id": "key_usage", "critical": True,
             "extn_value": {"digital_signature", "non_repudiation"}},
            {"extn_id": "key_identifier", "critical": False, "extn_value": ski},
            {"extn_id": "authority_key_identifier", "critical": False,
             "extn_value": {"key_identifier": ca_asn1.key_identifier}},
        ],
    })
    signature = ca_key.sign(tbs.dump(), ec.ECDSA(hashes.SHA256()))
    cert = asn1_x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                                  "signature_value": signature})
    return asn1_pem.armor("CERTIFICATE", cert.dump()).decode()


def chain_info() -> list[dict]:
    """The active chain, root first, for ``yiwang seal ca-info``."""
    out = []
    for authority in (root(), issuing()):
        cert = certificate(authority)
        out.append({
            "level": authority.get_level_display(),
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "serial": authority.serial,
            "not_before": cert.not_valid_before_utc,
            "not_after": cert.not_valid_after_utc,
            "sha256": cert.fingerprint(hashes.SHA256()).hex(":"),
            "pem": authority.certificate_pem,
        })
    return out
