"""Verification: the QR payload checks offline with only the published JWKS; a forged or altered
payload, an unknown key id and malformed input are refused with a reason; online status (revoked,
suspended, expired) overrides a genuine payload at once."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import segno

from yiwang.certificates import payload, services
from yiwang.certificates.payload import Outcome, b64url, unb64url
from yiwang.seals import signing

pytestmark = pytest.mark.django_db


@pytest.fixture
def published_keys(certificate):
    """What an outsider downloads from /.well-known/jwks.json — a plain JSON document."""
    return json.loads(json.dumps(signing.jwks()))


def tamper(qr: str, **changes) -> str:
    prefix, body, sig = qr.split(".")
    claims = json.loads(unb64url(body))
    claims.update(changes)
    return f"{prefix}.{b64url(payload.claims_json(claims))}.{sig}"


def test_a_genuine_payload_verifies_offline_with_the_published_keys_only(certificate, published_keys,
                                                                         django_assert_num_queries):
    with django_assert_num_queries(0):
        result = payload.check_offline(certificate.qr_payload, jwks=published_keys)
    assert result.outcome == Outcome.VALID and result.claims["i"] == certificate.identifier


def test_the_payload_is_small_enough_for_a_qr_code(certificate):
    url = services.verify_url(certificate.qr_payload)
    qr = segno.make(url, error="m")
    print(f"payload {len(certificate.qr_payload)} chars, URL {len(url)} chars, QR version {qr.version} "
          f"({qr.symbol_size()[0]} modules incl. quiet zone, error level M)")
    assert len(certificate.qr_payload) < 700 and qr.version <= 20


def test_an_altered_payload_is_forged(certificate, published_keys):
    altered = tamper(certificate.qr_payload, f={"kind": "肢体残疾", "grade": "四级"})
    result = payload.check_offline(altered, jwks=published_keys)
    assert result.outcome == Outcome.FORGED and "签名验证失败" in result.reason
    assert services.verify(qr=altered).outcome == Outcome.FORGED


def test_a_payload_signed_by_another_key_of_the_same_id_is_forged(certificate, published_keys):
    prefix, body, _ = certificate.qr_payload.split(".")
    other = signing.sign_payload(b"something else entirely")
    forged = f"{prefix}.{body}.{b64url(other.signature)}"
    assert payload.check_offline(forged, jwks=published_keys).outcome == Outcome.FORGED


def test_an_unknown_key_id_is_refused_as_unknown_key(certificate, published_keys):
    unknown = tamper(certificate.qr_payload, k="certificates-es256-20990101-nobody")
    result = payload.check_offline(unknown, jwks=published_keys)
    assert result.outcome == Outcome.UNKNOWN_KEY and "nobody" in result.reason
    assert services.verify(qr=unknown).outcome == Outcome.UNKNOWN_KEY


@pytest.mark.parametrize("text", [
    "", "hello", "YWC1.", "YWC1.abc", "YWC2.e30.AAAA", "YWC1.!!!.AAAA", "YWC1.e30.AAAA",
    f"YWC1.{b64url(b'[1,2]')}.AAAA", f"YWC1.{b64url(bytes([0xff, 0xfe]))}.AAAA", "YWC1." + "A" * 5000 + ".AA",
])
def test_malformed_payloads_are_refused_with_a_reason(text, published_keys):
    result = payload.check_offline(text, jwks=published_keys)
    assert result.outcome == Outcome.MALFORMED and result.reason
    assert services.verify(qr=text).outcome in (Outcome.MALFORMED,) or not text.strip()


def test_the_verification_url_itself_can_be_pasted(certificate, published_keys):
    url = services.verify_url(certificate.qr_payload)
    assert payload.check_offline(url, jwks=published_keys).outcome == Outcome.VALID


def test_old_keys_keep_verifying_after_rotation(certificate):
    signing.rotate("certificates")
    assert payload.check_offline(certificate.qr_payload, jwks=signing.jwks()).outcome == Outcome.VALID
    assert services.verify(qr=certificate.qr_payload).outcome == Outcome.VALID


def test_online_verification_of_a_valid_certificate_shows_masked_fields(certificate):
    result = services.verify(qr=certificate.qr_payload)
    assert result.outcome == Outcome.VALID and result.signature_checked
    assert result.holder == "李**" and ("残疾等级", "二级") in result.fields
    assert result.type_name == "中华人民共和国残疾人证" and result.issuer == "临江市市场监督管理局"
    by_id = services.verify(identifier=certificate.identifier.lower())
    assert by_id.outcome == Outcome.VALID and not by_id.signature_checked


def test_a_revoked_certificate_with_a_genuine_qr_shows_revoked_at_once(certificate, approver):
    services.revoke(approver, certificate, reason="以欺骗手段取得", kind="revoke")
    result = services.verify(qr=certificate.qr_payload)
    assert result.outcome == Outcome.REVOKED and "以欺骗手段取得" in result.reason and result.status == "03"
    # Offline, the payload alone still looks fine: only the online check knows.
    assert payload.check_offline(certificate.qr_payload, jwks=signing.jwks()).outcome == Outcome.VALID


def test_a_suspended_certificate_shows_suspended(certificate, approver):
    services.suspend(approver, certificate, reason="涉嫌违规，暂扣待查")
    assert services.verify(identifier=certificate.identifier).outcome == Outcome.SUSPENDED


def test_a_certificate_past_its_validity_shows_expired_even_before_the_sweep(certificate):
    later = certificate.valid_to + dt.timedelta(days=1)
    assert services.verify(qr=certificate.qr_payload, today=later).outcome == Outcome.EXPIRED
    offline = payload.check_offline(certificate.qr_payload, jwks=signing.jwks(), today=later)
    assert offline.outcome == Outcome.EXPIRED


def test_an_unknown_or_malformed_identifier_is_reported(certificate):
    other_check = "1" if certificate.identifier.endswith("0") else "0"  # a check character it does not have
    assert services.verify(identifier=certificate.identifier[:-1] + other_check).outcome in (Outcome.MALFORMED,
                                                                                             Outcome.NOT_FOUND)
    bad_check = services.verify(identifier="1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.V")
    assert bad_check.outcome == Outcome.MALFORMED and "校验位" in bad_check.reason
    real_elsewhere = services.verify(
        identifier="1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U")
    assert real_elsewhere.outcome == Outcome.NOT_FOUND
    assert services.verify().outcome == Outcome.MALFORMED


def test_the_payload_verifies_with_the_jwks_as_published_at_the_well_known_url(client, certificate):
    published = client.get("/.well-known/jwks.json")
    assert published.status_code == 200
    keys = json.loads(published.content)
    assert payload.check_offline(certificate.qr_payload, jwks=keys).outcome == Outcome.VALID
    stretched = tamper(certificate.qr_payload, vt="2099-12-31")
    assert payload.check_offline(stretched, jwks=keys).outcome == Outcome.FORGED
