"""GB/T 36904 certificate identifiers: the real example validates; every built one validates; a
single changed character of type, issuer or serial is caught by the MOD 37,36 check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yiwang.certificates import identifiers
from yiwang.certificates.identifiers import ALNUM, InvalidIdentifier

REAL = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"

uscc = st.text(alphabet=ALNUM, min_size=18, max_size=18)
type_code = st.builds(lambda u, n: f"{u}{n:03d}", uscc, st.integers(0, 999))
serial = st.text(alphabet=ALNUM, min_size=1, max_size=20)
version = st.integers(1, 999)


def test_the_real_identifier_of_the_standard_validates():
    parsed = identifiers.parse(REAL)
    assert parsed.type_code == "11100000000013338W011"
    assert parsed.issuer_code == "11430000006122244L"
    assert parsed.serial == "20230000403" and parsed.version == 1
    assert str(parsed) == REAL


def test_building_the_real_identifier_gives_its_check_character():
    assert identifiers.build("11100000000013338W011", "11430000006122244L", "20230000403", 1) == REAL


@pytest.mark.parametrize("bad, why", [
    (REAL[:-1] + "V", "校验位"),
    (REAL.replace("1.2.156.3005.2.", "1.2.156.3005.3."), "开头"),
    (REAL.replace(".001.", ".000."), "版本号"),
    (REAL.replace(".001.", ".01."), "版本号"),
    (REAL.replace("11430000006122244L", "1143000000612224"), "颁发机构代码"),
    (REAL + ".X", "五段"),
    ("", "开头"),
])
def test_malformed_identifiers_are_refused_with_the_reason(bad, why):
    with pytest.raises(InvalidIdentifier, match=why):
        identifiers.parse(bad)
    assert not identifiers.is_valid(bad)


def test_lower_case_input_is_read_as_upper_case():
    assert identifiers.parse(REAL.lower()) == identifiers.parse(REAL)


@given(type_code, uscc, serial, version)
def test_every_built_identifier_validates(t, issuer, s, v):
    text = identifiers.build(t, issuer, s, v)
    parsed = identifiers.parse(text)
    assert (parsed.type_code, parsed.issuer_code, parsed.serial, parsed.version) == (t, issuer, s, v)


@given(type_code, uscc, serial, version, st.data())
def test_one_changed_character_of_type_issuer_or_serial_is_detected(t, issuer, s, v, data):
    text = identifiers.build(t, issuer, s, v)
    body = f"{t}.{issuer}.{s}"
    start = len(identifiers.PREFIX) + 1
    positions = [start + i for i, ch in enumerate(body) if ch != "."]
    pos = data.draw(st.sampled_from(positions))
    new = data.draw(st.sampled_from([c for c in ALNUM if c != text[pos]]))
    changed = text[:pos] + new + text[pos + 1:]
    with pytest.raises(InvalidIdentifier):
        identifiers.parse(changed)


def test_serials_are_the_year_and_a_seven_digit_sequence():
    assert identifiers.serial_for(2026, 12) == "20260000012"
