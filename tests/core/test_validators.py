"""GB 11643 citizen IDs, GB 32100 credit codes and the service item codes."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yiwang.core import validators as v

PROVINCES = sorted(v.PROVINCE_CODES)
ORG_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def test_known_real_id_number_is_valid():
    assert v.check_citizen_id("11010519491231002X") == "11010519491231002X"


def test_lower_case_x_is_accepted_and_normalised():
    assert v.check_citizen_id("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize("bad, reason", [
    ("110105194912310021", "校验位"),
    ("11010519491331002X", "出生日期"),
    ("11010519490229002X", "出生日期"),  # 1949 is not a leap year
    ("99010519491231002X", "地区码"),
    ("1101051949123100", "18位"),
    ("11010519491231002Y", "末位"),
])
def test_invalid_id_numbers_are_refused_with_the_reason(bad, reason):
    with pytest.raises(v.InvalidCode, match=reason):
        v.check_citizen_id(bad)


def test_birth_date_in_the_future_is_refused():
    future = dt.date.today() + dt.timedelta(days=30)
    number = v.make_citizen_id("110105", future, "001")
    with pytest.raises(v.InvalidCode, match="出生日期"):
        v.check_citizen_id(number)


birth_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31))


@given(province=st.sampled_from(PROVINCES), rest=st.from_regex(r"[0-9]{4}", fullmatch=True), birth=birth_dates,
       seq=st.from_regex(r"[0-9]{3}", fullmatch=True))
def test_every_generated_id_validates_and_round_trips(province, rest, birth, seq):
    number = v.make_citizen_id(province + rest, birth, seq)
    assert v.check_citizen_id(number.lower()) == number


@given(province=st.sampled_from(PROVINCES), rest=st.from_regex(r"[0-9]{4}", fullmatch=True), birth=birth_dates,
       seq=st.from_regex(r"[0-9]{3}", fullmatch=True), pos=st.integers(0, 16), delta=st.integers(1, 9))
def test_changing_any_single_digit_is_detected(province, rest, birth, seq, pos, delta):
    number = v.make_citizen_id(province + rest, birth, seq)
    digits = list(number)
    digits[pos] = str((int(digits[pos]) + delta) % 10)
    mutated = "".join(digits)
    with pytest.raises(v.InvalidCode):
        v.check_citizen_id(mutated)


@pytest.mark.parametrize("code", ["91350100M000100Y43", "11370800MB28559184", "12441500196720244T"])
def test_real_credit_codes_are_valid(code):
    assert v.check_uscc(code) == code


@pytest.mark.parametrize("bad, reason", [
    ("91350100M000100Y44", "校验"),
    ("91350100M000100Y4", "18位"),
    ("91350100M000100YI3", "字符"),
    ("01350100M000100Y43", "登记管理部门"),
    ("91990100M000100Y43", "行政区划"),
])
def test_invalid_credit_codes_are_refused(bad, reason):
    with pytest.raises(v.InvalidCode, match=reason):
        v.check_uscc(bad)


@settings(max_examples=200)
@given(province=st.sampled_from(PROVINCES), rest=st.from_regex(r"[0-9]{4}", fullmatch=True),
       body=st.text(alphabet=ORG_CHARS, min_size=8, max_size=8),
       kind=st.sampled_from([("1", "1"), ("5", "1"), ("9", "1"), ("9", "2"), ("9", "3")]))
def test_generated_credit_codes_validate_and_any_change_is_caught(province, rest, body, kind):
    code = v.make_uscc(kind[0], kind[1], province + rest, body)
    assert v.check_uscc(code.lower()) == code
    for pos in (8, 12, 17):
        chars = list(code)
        alphabet = v.USCC_ALPHABET
        chars[pos] = alphabet[(alphabet.index(chars[pos]) + 1) % len(alphabet)]
        with pytest.raises(v.InvalidCode):
            v.check_uscc("".join(chars))


def test_implementation_code_joins_credit_code_level_and_basic_code():
    code = v.make_implementation_code("11370800MB28559184", 3, "370117002011")
    assert code == "11370800MB285591843370117002011"
    assert len(code) == 31


@pytest.mark.parametrize("bad", [
    "11370800MB285591853370117002011",  # credit code check broken
    "11370800MB285591848370117002011",  # level digit 8
    "11370800MB28559184337011700201",   # 30 characters
    "11370800MB285591843370117000011",  # main item 000
])
def test_bad_implementation_codes_are_refused(bad):
    with pytest.raises(v.InvalidCode):
        v.check_implementation_code(bad)


@given(scope=st.sampled_from(["00", *PROVINCES]), dept=st.from_regex(r"[0-9]{4}", fullmatch=True),
       main=st.integers(1, 999), sub=st.integers(0, 999))
def test_basic_codes_have_twelve_digits_in_four_parts(scope, dept, main, sub):
    code = v.make_basic_code(scope, dept, main, sub)
    assert len(code) == 12 and code[:2] == scope and code[2:6] == dept
    assert int(code[6:9]) == main and int(code[9:]) == sub


@pytest.mark.parametrize("code, level, parent", [
    ("390000000000", 1, None),
    ("390100000000", 2, "390000000000"),
    ("390102000000", 3, "390100000000"),
    ("390102001000", 4, "390102000000"),
    ("390102001002", 5, "390102001000"),
])
def test_division_code_levels_and_parents(code, level, parent):
    assert v.division_level(code) == level
    assert v.division_parent(code) == parent
