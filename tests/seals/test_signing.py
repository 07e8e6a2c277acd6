"""Signing compact payloads: round trips, tampering, unknown keys, rotation, expiry and the JWKS."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from yiwang.core.models import AuditEntry
from yiwang.seals import keystore, signing
from yiwang.seals.models import SigningKey
from yiwang.seals.signing import UnknownKey

pytestmark = pytest.mark.django_db


def test_es256_is_the_default_and_round_trips():
    signed = signing.sign_payload(b'{"id":"1.2.156"}')
    assert signed.alg == "ES256" and len(signed.signature) == 64
    assert signing.verify_payload(signed.kid, b'{"id":"1.2.156"}', signed.signature)


def test_setting_selects_sm2(settings):
    settings.YIWANG_SIGNING_ALGORITHM = "SM2SM3"
    signed = signing.sign_payload(b"payload")
    assert signed.alg == "SM2SM3"
    assert signing.verify_payload(signed.kid, b"payload", signed.signature)


@pytest.mark.parametrize("alg", ["ES256", "SM2SM3"])
def test_tampered_payload_or_signature_fails(alg):
    signed = signing.sign_payload(b"amount=100", algorithm=alg)
    assert not signing.verify_payload(signed.kid, b"amount=900", signed.signature)
    bad = bytes([signed.signature[0] ^ 1]) + signed.signature[1:]
    assert not signing.verify_payload(signed.kid, b"amount=100", bad)
    assert not signing.verify_payload(signed.kid, b"amount=100", signed.signature[:63])
    assert not signing.verify_payload(signed.kid, b"amount=100", b"\0" * 64)


@hsettings(max_examples=30)
@given(data=st.binary(max_size=300), flip=st.integers(min_value=0, max_value=299))
def test_es256_round_trip_and_any_changed_byte_fails(data, flip):
    signed = signing.sign_payload(data, purpose="hypothesis")
    assert signing.verify_payload(signed.kid, data, signed.signature)
    if data:
        i = flip % len(data)
        changed = data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1:]
        assert not signing.verify_payload(signed.kid, changed, signed.signature)


@hsettings(max_examples=8)
@given(data=st.binary(max_size=200))
def test_sm2_round_trip(data):
    signed = signing.sign_payload(data, purpose="hypothesis", algorithm="SM2SM3")
    assert signing.verify_payload(signed.kid, data, signed.signature)
    assert not signing.verify_payload(signed.kid, data + b"x", signed.signature)


def test_unknown_kid_is_refused_with_a_clear_reason():
    with pytest.raises(UnknownKey) as raised:
        signing.verify_payload("nope-es256-20260101-xxxx", b"x", b"\0" * 64)
    assert "未知的密钥编号" in raised.value.message and raised.value.status == 400


def test_bad_algorithm_and_purpose_are_validation_errors():
    from yiwang.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        signing.sign_payload(b"x", algorithm="RS256")
    with pytest.raises(ValidationFailed):
        signing.sign_payload(b"x", purpose="Bad Purpose!")


def test_private_key_is_encrypted_at_rest_and_bound_to_its_key():
    signed = signing.sign_payload(b"x")
    key = SigningKey.objects.get(kid=signed.kid)
    assert key.private_key_encrypted.startswith("kek1.")
    scalar = keystore.open_private(key.private_key_encrypted, f"kid:{key.kid}")
    assert scalar.hex() not in key.private_key_encrypted
    from yiwang.core.crypto import DecryptionFailed

    with pytest.raises(DecryptionFailed):
        keystore.open_private(key.private_key_encrypted, "kid:another")


def test_kek_from_environment_is_used_and_a_wrong_one_refuses(settings):
    settings.YIWANG_SEAL_KEK = base64.b64encode(b"k" * 32).decode()
    signed = signing.sign_payload(b"x", purpose="kek-test")
    settings.YIWANG_SEAL_KEK = base64.b64encode(b"j" * 32).decode()
    from yiwang.core.crypto import DecryptionFailed

    with pytest.raises(DecryptionFailed):
        signing.sign_payload(b"x", purpose="kek-test")
    # Verification needs only the public key.
    assert signing.verify_payload(signed.kid, b"x", signed.signature)


def test_production_without_kek_refuses(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.PRODUCTION = True
    settings.YIWANG_SEAL_KEK = ""
    with pytest.raises(ImproperlyConfigured):
        keystore.kek()


def test_rotation_keeps_old_signatures_verifiable():
    old = signing.sign_payload(b"before")
    new_key = signing.rotate("certificates")
    new = signing.sign_payload(b"after")
    assert new.kid == new_key.kid != old.kid
    assert signing.verify_payload(old.kid, b"before", old.signature)
    assert SigningKey.objects.get(kid=old.kid).state == "retired"
    kids = {k["kid"] for k in signing.jwks()["keys"]}
    assert {old.kid, new.kid} <= kids
    assert AuditEntry.objects.filter(action="seals.key_retired", object_id=old.kid).exists()


def test_expired_key_is_not_used_to_sign():
    old = signing.sign_payload(b"x")
    SigningKey.objects.filter(kid=old.kid).update(not_after=timezone.now() - dt.timedelta(seconds=1))
    new = signing.sign_payload(b"x")
    assert new.kid != old.kid
    assert SigningKey.objects.get(kid=old.kid).state == "retired"


def test_destroyed_key_no_longer_verifies_nor_is_published():
    old = signing.sign_payload(b"x")
    signing.rotate("certificates")
    signing.destroy(old.kid)
    assert old.kid not in {k["kid"] for k in signing.jwks()["keys"]}
    with pytest.raises(UnknownKey):
        signing.verify_payload(old.kid, b"x", old.signature)


def test_offline_verification_uses_only_the_given_key_set(client):
    es = signing.sign_payload(b"offline")
    sm = signing.sign_payload(b"offline", algorithm="SM2SM3")
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200 and "max-age=300" in response["Cache-Control"]
    document = response.json()
    by_kid = {k["kid"]: k for k in document["keys"]}
    assert by_kid[es.kid]["crv"] == "P-256" and by_kid[es.kid]["alg"] == "ES256"
    assert by_kid[sm.kid]["crv"] == "SM2" and by_kid[sm.kid]["alg"] == "SM2SM3"
    assert set(by_kid[es.kid]) >= {"kty", "crv", "x", "y", "kid", "alg", "use"}
    SigningKey.objects.all().delete()  # the database no longer helps
    assert signing.verify_payload(es.kid, b"offline", es.signature, jwks=document)
    assert signing.verify_payload(sm.kid, b"offline", sm.signature, jwks=document)
    assert not signing.verify_payload(es.kid, b"offline!", es.signature, jwks=document)
    with pytest.raises(UnknownKey):
        signing.verify_payload(es.kid, b"offline", es.signature, jwks={"keys": []})


def test_a_jwks_point_off_the_curve_is_refused():
    sm = signing.sign_payload(b"x", algorithm="SM2SM3")
    entry = signing.jwk(SigningKey.objects.get(kid=sm.kid))
    entry["y"] = entry["x"]
    with pytest.raises(UnknownKey):
        signing.verify_payload(sm.kid, b"x", sm.signature, jwks={"keys": [entry]})


def test_es256_signature_verifies_with_cryptography_independently():
    signed = signing.sign_payload(b"independent")
    key = SigningKey.objects.get(kid=signed.kid)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes.fromhex(key.public_point))
    der = encode_dss_signature(int.from_bytes(signed.signature[:32], "big"), int.from_bytes(signed.signature[32:], "big"))
    public.verify(der, b"independent", ec.ECDSA(hashes.SHA256()))


def _openssl_has_sm2() -> bool:
    if not shutil.which("openssl"):
        return False
    return subprocess.run(["openssl", "ecparam", "-name", "SM2"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _openssl_has_sm2(), reason="openssl without SM2")
def test_sm2_signature_verifies_with_openssl(tmp_path):
    from asn1crypto import keys as asn1_keys

    signed = signing.sign_payload(b"national cryptography", algorithm="SM2SM3")
    key = SigningKey.objects.get(kid=signed.kid)
    spki = asn1_keys.PublicKeyInfo({
        "algorithm": {"algorithm": "ec", "parameters": asn1_keys.ECDomainParameters(
            name="named", value=asn1_keys.NamedCurve("1.2.156.10197.1.301"))},
        "public_key": bytes.fromhex(key.public_point)})
    (tmp_path / "pub.der").write_bytes(spki.dump())
    (tmp_path / "data").write_bytes(b"national cryptography")
    der = encode_dss_signature(int.from_bytes(signed.signature[:32], "big"), int.from_bytes(signed.signature[32:], "big"))
    (tmp_path / "sig").write_bytes(der)
    subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(tmp_path / "pub.der"),
                    "-out", str(tmp_path / "pub.pem")], check=True, capture_output=True)
    cmd = ["openssl", "dgst", "-sm3", "-verify", str(tmp_path / "pub.pem"), "-sigopt", "distid:1234567812345678",
           "-signature", str(tmp_path / "sig"), str(tmp_path / "data")]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert "Verified OK" in result.stdout, result.stdout + result.stderr
    (tmp_path / "data").write_bytes(b"national cryptographY")
    assert subprocess.run(cmd, capture_output=True, text=True).returncode != 0


def test_signing_key_has_a_certificate_from_our_ca():
    from cryptography import x509

    signed = signing.sign_payload(b"x")
    key = SigningKey.objects.get(kid=signed.kid)
    cert = x509.load_pem_x509_certificate(key.certificate_pem.encode())
    assert cert.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
                                          ).hex() == key.public_point
    assert cert.not_valid_after_utc == key.not_after


def test_sm2_digest_matches_the_library_reference():
    from pysmx.SM2 import get_za
    from pysmx.SM2._SM2 import get_hash

    signed = signing.sign_payload(b"za", algorithm="SM2SM3")
    point = SigningKey.objects.get(kid=signed.kid).public_point
    za = get_za(b"1234567812345678", point[2:])
    assert signing._sm2_za(point).hex() == za
    assert signing._sm2_digest(point, b"za") == get_hash("sm3", za + b"za".hex(), Hexstr=1)


def test_changing_the_kek_and_rewrapping_keeps_every_key_usable(settings, org_admin_a, org_a):
    from django.core.management import call_command

    from tests.seals.conftest import make_active_seal, simple_pdf
    from yiwang.core.crypto import DecryptionFailed
    from yiwang.seals import pdfsign

    old, new = base64.b64encode(b"o" * 32).decode(), base64.b64encode(b"n" * 32).decode()
    settings.YIWANG_SEAL_KEK = old
    seal = make_active_seal(org_admin_a, org_a)
    signing.sign_payload(b"x", purpose="kek-change")

    settings.YIWANG_SEAL_KEK = new  # the old KEK is gone: nothing unwraps
    with pytest.raises(DecryptionFailed):
        signing.sign_payload(b"x", purpose="kek-change")

    settings.YIWANG_SEAL_KEK_PREVIOUS = old
    call_command("seal", "rewrap")
    assert AuditEntry.objects.filter(action="seals.keys_rewrapped").exists()
    settings.YIWANG_SEAL_KEK_PREVIOUS = ""  # everything now under the new KEK alone
    assert signing.sign_payload(b"x", purpose="kek-change")
    seal.refresh_from_db()
    assert pdfsign.verify_pdf(pdfsign.sign_pdf(simple_pdf(), seal=seal, reason="x"))[0].ok
    assert not keystore.needs_rewrap(seal.private_key_encrypted)


def test_keys_command_lists_the_keys_or_says_there_are_none():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("seal", "keys", stdout=out)
    assert "还没有签名密钥" in out.getvalue()
    key = signing.current_key("certificates", "ES256")
    out = StringIO()
    call_command("seal", "keys", stdout=out)
    assert key.kid in out.getvalue() and "还没有签名密钥" not in out.getvalue()
