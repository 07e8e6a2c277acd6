"""Masking personal data for display, and keeping it out of the logs."""

import datetime as dt
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yiwang.core import masking as m
from yiwang.core.logging_filters import PersonalDataFilter, redact
from yiwang.core.validators import make_citizen_id

ID_NUMBER = "11010519491231002X"


@pytest.mark.parametrize("masker, value, shown", [
    (m.mask_id_number, "110101199003071234", "110101********1234"),
    (m.mask_id_number, "11010519491231002X", "110105********002X"),
    (m.mask_id_number, "110105491231002", "110105*****1002"),  # first-generation 15 digits
    (m.mask_phone, "13812345678", "138****5678"),
    (m.mask_phone, "+8613812345678", "+86138****5678"),
    (m.mask_phone, "010-12345678", "010*****5678"),
    (m.mask_name, "张三丰", "张**"),
    (m.mask_name, "张三", "张*"),
    (m.mask_name, "欧阳娜娜", "欧***"),
    (m.mask_address, "北京市朝阳区建国路88号院3号楼", "北京市朝阳区****"),
    (m.mask_address, "朝阳区", "朝****"),
    (m.mask_uscc, "91110108MA01ABCD1X", "91110108********1X"),
])
def test_values_are_masked_by_the_documented_convention(masker, value, shown):
    assert masker(value) == shown


@pytest.mark.parametrize("masker", list(m.MASKERS.values()))
@pytest.mark.parametrize("odd", [None, "", " ", "1", "12", "张", 12345678901, 3.5, b"bytes", ["list"]])
def test_maskers_never_raise_on_odd_input(masker, odd):
    assert isinstance(masker(odd), str)


@pytest.mark.parametrize("masker", list(m.MASKERS.values()))
def test_none_is_shown_as_nothing(masker):
    assert masker(None) == ""


@pytest.mark.parametrize("masker, kept_at_most", [(m.mask_id_number, 10), (m.mask_phone, 12), (m.mask_uscc, 10)])
@given(text=st.text(alphabet=st.characters(blacklist_characters="*"), min_size=1, max_size=30))
def test_a_value_hides_at_least_four_characters_or_is_masked_whole(masker, kept_at_most, text):
    # (a phone may keep its "0086 " country prefix besides the first 3 and last 4 digits)
    shown = masker(text)
    hidden = shown.count(m.MASK)
    assert hidden >= 4 or hidden == len(shown)
    assert len(shown) - hidden <= kept_at_most


@given(text=st.text())
def test_masking_any_text_never_raises(text):
    for masker in m.MASKERS.values():
        assert isinstance(masker(text), str)


def test_shown_masks_unless_the_full_value_is_granted():
    assert m.shown(ID_NUMBER, "id_number") == "110105********002X"
    assert m.shown(ID_NUMBER, "id_number", full=True) == ID_NUMBER
    assert m.shown(None, "phone", full=True) == ""


# ------------------------------------------------------------------------ logs


def _formatted(record):
    PersonalDataFilter().filter(record)
    return logging.Formatter("%(message)s").format(record)


def _record(msg, args=(), exc_info=None):
    return logging.LogRecord("yiwang.test", logging.WARNING, __file__, 1, msg, args, exc_info)


def test_log_filter_masks_an_id_number_and_a_phone_in_the_message():
    line = _formatted(_record(f"申请人 {ID_NUMBER} 电话13812345678 提交失败"))
    assert line == "申请人 110105********002X 电话138****5678 提交失败"


def test_log_filter_masks_personal_data_passed_as_arguments():
    line = _formatted(_record("person %s phone %s count %d", (ID_NUMBER.lower(), 13812345678, 3)))
    assert line == "person 110105********002x phone 138****5678 count 3"
    assert _formatted(_record("data %(id)s", ({"id": ID_NUMBER},))) == "data 110105********002X"


def test_log_filter_leaves_other_numbers_alone():
    other = ("order 202401011234567890 amount 13800 ids 110105194912310021 "
             "1381234567890 tel 12812345678 code 91110108MA01ABCD1X")
    record = _record("%s", (other,))
    assert _formatted(record) == other
    assert record.args == (other,), "a record without personal data keeps its arguments"


def test_log_filter_masks_phones_with_country_code():
    assert redact("tel:+86 13812345678;") == "tel:+86 138****5678;"
    assert redact("8613812345678") == "86138****5678"


def test_log_filter_masks_tracebacks():
    try:
        raise ValueError(f"bad applicant {ID_NUMBER}")
    except ValueError:
        import sys

        record = _record("failed", exc_info=sys.exc_info())
    line = _formatted(record)
    assert ID_NUMBER not in line and "110105********002X" in line


@given(birth=st.dates(min_value=dt.date(1920, 1, 1), max_value=dt.date(2020, 12, 31)),
       seq=st.integers(0, 999), before=st.sampled_from(["", " ", "号码:", "id="]),
       after=st.sampled_from(["", " ", "，", ";"]))
def test_every_valid_id_number_is_masked_in_logs(birth, seq, before, after):
    number = make_citizen_id("330106", birth, f"{seq:03d}")
    assert redact(f"{before}{number}{after}") == f"{before}{number[:6]}{'*' * 8}{number[-4:]}{after}"


def test_filter_installed_on_a_handler_masks_what_reaches_the_output(caplog):
    logger = logging.getLogger("yiwang.test.filtered")
    caplog.handler.addFilter(PersonalDataFilter())
    try:
        with caplog.at_level(logging.INFO, logger="yiwang.test.filtered"):
            logger.info("login by %s", "13912345678")
    finally:
        caplog.handler.filters.clear()
    assert "13912345678" not in caplog.text and "139****5678" in caplog.text
