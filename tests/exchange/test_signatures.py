"""Webhook signatures: what a receiver checks, and what it must refuse."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yiwang.exchange.webhooks import sign, url_problem, verify_signature

SECRET = "whsec_test-secret"
BODY = b'{"specversion":"1.0","id":"1","type":"cn.yiwang.case.accepted","data":{"number":"X"}}'


def test_a_signature_made_now_verifies():
    header = sign(SECRET, BODY)
    assert header.startswith("t=") and ",v1=" in header
    assert verify_signature(SECRET, header, BODY)
    assert verify_signature(SECRET, header, BODY.decode())  # text or bytes, the same


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    import hashlib
    import hmac

    header = sign(SECRET, BODY, timestamp=1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_a_tampered_body_is_invalid():
    header = sign(SECRET, BODY)
    assert not verify_signature(SECRET, header, BODY.replace(b'"X"', b'"Y"'))


def test_another_secret_is_invalid():
    assert not verify_signature("whsec_other", sign(SECRET, BODY), BODY)


def test_an_old_timestamp_is_invalid_even_with_a_correct_signature():
    old = int(time.time()) - 301
    header = sign(SECRET, BODY, timestamp=old)
    assert not verify_signature(SECRET, header, BODY)
    assert verify_signature(SECRET, header, BODY, tolerance=600)


def test_a_timestamp_far_in_the_future_is_invalid():
    assert not verify_signature(SECRET, sign(SECRET, BODY, timestamp=int(time.time()) + 3600), BODY)


def test_a_changed_timestamp_breaks_the_signature():
    header = sign(SECRET, BODY)
    t, v1 = header.split(",")
    moved = f"t={int(t[2:]) + 1},{v1}"
    assert not verify_signature(SECRET, moved, BODY)


def test_any_of_several_v1_values_may_match():
    good = sign(SECRET, BODY)
    t, v1 = good.split(",")
    assert verify_signature(SECRET, f"{t},v1={'0' * 64},{v1}", BODY)


@pytest.mark.parametrize("header", ["", "garbage", "t=,v1=", "v1=abc", "t=123", "t=abc,v1=def", None])
def test_malformed_headers_are_invalid(header):
    assert not verify_signature(SECRET, header, BODY)


@given(st.text(max_size=200), st.binary(max_size=200))
def test_verification_never_raises_on_any_header_or_body(header, body):
    assert verify_signature(SECRET, header, body) in (True, False)


@given(st.binary(max_size=300), st.binary(min_size=1, max_size=300))
def test_any_change_to_the_body_is_detected(body, suffix):
    header = sign(SECRET, body)
    assert verify_signature(SECRET, header, body)
    assert not verify_signature(SECRET, header, body + suffix)


# ----------------------------------------------------------------------------- target addresses
def test_https_targets_are_accepted():
    assert url_problem("https://dept.example.gov.cn/hooks/yiwang") is None


@pytest.mark.parametrize("url", ["http://dept.example.gov.cn/hooks", "ftp://example.com/x", "example.com/hooks",
                                 "https://user:pw@example.com/hooks", "https://example.com/hooks#x", "",
                                 "https://example.com:99999/"])
def test_other_targets_are_refused_with_a_bilingual_reason(url):
    problem = url_problem(url)
    assert problem and " / " in problem


def test_http_to_localhost_needs_the_setting(settings):
    settings.YIWANG_WEBHOOKS_ALLOW_HTTP_LOOPBACK = False
    assert url_problem("http://127.0.0.1:8080/hooks")
    settings.YIWANG_WEBHOOKS_ALLOW_HTTP_LOOPBACK = True
    assert url_problem("http://127.0.0.1:8080/hooks") is None
    assert url_problem("http://localhost/hooks") is None
    assert url_problem("http://10.0.0.1/hooks")  # other hosts never over plain http
