"""Personal data at rest: authenticated encryption, key rotation, blind indexes, model fields."""

import base64
import logging

import pytest
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import connection, models
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from yiwang.core import crypto
from yiwang.core.crypto import DecryptionFailed, normalise_id_number, normalise_phone
from yiwang.core.fields import (
    BlindIndexField,
    EncryptedTextField,
    blind_match,
    rebuild_blind_index,
    rotate_model_field,
)

KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(100, 132))).decode()
INDEX_KEY = base64.b64encode(b"i" * 32).decode()
OTHER_INDEX_KEY = base64.b64encode(b"j" * 32).decode()
ID_NUMBER = "11010519491231002X"
CONTEXT = "identity.person.id_number"


def keys(data_keys=f"a:{KEY_A}", cipher="aes-gcm", index_key=INDEX_KEY, **extra):
    """Settings for one key configuration (used as a context manager, hypothesis-friendly)."""
    return override_settings(YIWANG_DATA_KEYS=data_keys, YIWANG_DATA_CIPHER=cipher,
                             YIWANG_INDEX_KEY=index_key, **extra)


@pytest.fixture(autouse=True)
def no_keys_in_environment(monkeypatch):
    for name in ("YIWANG_DATA_KEYS", "YIWANG_DATA_CIPHER", "YIWANG_INDEX_KEY"):
        monkeypatch.delenv(name, raising=False)


# ------------------------------------------------------------------------ encryption


@pytest.mark.parametrize("cipher", ["aes-gcm", "sm4"])
@given(text=st.text())
def test_any_text_comes_back_unchanged(cipher, text):
    with keys(cipher=cipher):
        assert crypto.decrypt(crypto.encrypt(text, CONTEXT), CONTEXT) == text


@pytest.mark.parametrize("cipher, algorithm", [("aes-gcm", "aesgcm"), ("sm4", "sm4gcm")])
def test_token_names_version_key_and_algorithm_and_hides_the_value(cipher, algorithm):
    with keys(cipher=cipher):
        token = crypto.encrypt(ID_NUMBER, CONTEXT)
        again = crypto.encrypt(ID_NUMBER, CONTEXT)
    assert token.startswith(f"v1.a.{algorithm}.")
    assert ID_NUMBER not in token and "1949" not in token
    assert token != again, "a fresh random nonce every time"


@given(text=st.text(max_size=40), position=st.integers(min_value=0), replacement=st.characters())
def test_altering_any_character_of_a_token_is_detected(text, position, replacement):
    with keys(data_keys=f"a:{KEY_A},b:{KEY_B}"):
        token = crypto.encrypt(text, CONTEXT)
        position %= len(token)
        if token[position] == replacement:
            return
        altered = token[:position] + replacement + token[position + 1:]
        with pytest.raises(DecryptionFailed):
            crypto.decrypt(altered, CONTEXT)


def test_truncated_or_foreign_values_are_refused_with_a_message_but_no_value():
    with keys():
        token = crypto.encrypt(ID_NUMBER, CONTEXT)
        for bad in (token[:-3], token + "AA", "", "plain text", "v2.a.aesgcm.AAAA", None):
            with pytest.raises(DecryptionFailed) as refused:
                crypto.decrypt(bad, CONTEXT)
            assert ID_NUMBER not in refused.value.message


def test_a_value_moved_to_another_column_does_not_decrypt():
    with keys():
        token = crypto.encrypt(ID_NUMBER, "identity.person.id_number")
        with pytest.raises(DecryptionFailed, match="identity.person.phone"):
            crypto.decrypt(token, "identity.person.phone")


def test_a_token_relabelled_with_another_configured_key_does_not_decrypt():
    with keys(data_keys=f"a:{KEY_A},b:{KEY_A}"):
        token = crypto.encrypt(ID_NUMBER, CONTEXT)
        with pytest.raises(DecryptionFailed):
            crypto.decrypt(token.replace("v1.a.", "v1.b.", 1), CONTEXT)


def test_sm4_and_aes_tokens_are_not_interchangeable():
    with keys(cipher="sm4"):
        token = crypto.encrypt(ID_NUMBER, CONTEXT)
        with pytest.raises(DecryptionFailed):
            crypto.decrypt(token.replace(".sm4gcm.", ".aesgcm.", 1), CONTEXT)


# ------------------------------------------------------------------------ rotation


def test_rotation_old_key_still_decrypts_and_rotate_moves_to_the_new_key():
    with keys(data_keys=f"a:{KEY_A}"):
        old = crypto.encrypt(ID_NUMBER, CONTEXT)
        assert not crypto.needs_rotation(old)
    with keys(data_keys=f"b:{KEY_B},a:{KEY_A}"):
        assert crypto.decrypt(old, CONTEXT) == ID_NUMBER
        assert crypto.needs_rotation(old)
        new = crypto.rotate(old, CONTEXT)
        assert new.startswith("v1.b.aesgcm.")
        assert not crypto.needs_rotation(new)
        assert crypto.rotate(new, CONTEXT) == new
        assert crypto.decrypt(new, CONTEXT) == ID_NUMBER
    with keys(data_keys=f"b:{KEY_B}"):
        assert crypto.decrypt(new, CONTEXT) == ID_NUMBER
        with pytest.raises(DecryptionFailed, match="key a is not configured"):
            crypto.decrypt(old, CONTEXT)


def test_switching_the_cipher_marks_existing_tokens_for_rotation():
    with keys(cipher="aes-gcm"):
        old = crypto.encrypt(ID_NUMBER, CONTEXT)
    with keys(cipher="sm4"):
        assert crypto.needs_rotation(old)
        assert crypto.decrypt(old, CONTEXT) == ID_NUMBER
        assert crypto.rotate(old, CONTEXT).startswith("v1.a.sm4gcm.")


def test_a_16_byte_key_serves_sm4_but_not_aes_256():
    short = base64.b64encode(b"k" * 16).decode()
    with keys(data_keys=f"s:{short}", cipher="sm4"):
        token = crypto.encrypt(ID_NUMBER, CONTEXT)
        assert crypto.decrypt(token, CONTEXT) == ID_NUMBER
    with keys(data_keys=f"s:{short}", cipher="aes-gcm"), pytest.raises(ImproperlyConfigured, match="32"):
        crypto.encrypt(ID_NUMBER, CONTEXT)


# ------------------------------------------------------------------------ configuration


@pytest.mark.parametrize("bad", [
    "no-colon", f"bad.id:{KEY_A}", f"a:{KEY_A},a:{KEY_B}", "a:not base64!", "a:" + base64.b64encode(b"x" * 20).decode(),
    " , ",
])
def test_malformed_key_lists_are_refused_without_echoing_the_keys(bad):
    with keys(data_keys=bad), pytest.raises(ImproperlyConfigured) as refused:
        crypto.encrypt("x", CONTEXT)
    assert KEY_A not in str(refused.value)


def test_unknown_cipher_is_refused():
    with keys(cipher="des"), pytest.raises(ImproperlyConfigured, match="aes-gcm or sm4"):
        crypto.encrypt("x", CONTEXT)


def test_production_without_keys_fails_at_first_use():
    with keys(data_keys="", index_key="", PRODUCTION=True):
        with pytest.raises(ImproperlyConfigured, match="YIWANG_DATA_KEYS"):
            crypto.encrypt(ID_NUMBER, CONTEXT)
        with pytest.raises(ImproperlyConfigured, match="YIWANG_INDEX_KEY"):
            crypto.blind_index(ID_NUMBER, CONTEXT)


def test_development_without_keys_uses_a_derived_key_and_says_so(caplog, monkeypatch):
    monkeypatch.setattr(crypto, "_warned", set())
    crypto._parse_data_keys.cache_clear()  # the warning is given when the keys are first read
    crypto._parse_index_key.cache_clear()
    with (caplog.at_level(logging.WARNING, logger="yiwang.core.crypto"),
          keys(data_keys="", index_key="", PRODUCTION=False)):
        token = crypto.encrypt(ID_NUMBER, CONTEXT)
        assert token.startswith("v1.dev.")
        assert crypto.decrypt(token, CONTEXT) == ID_NUMBER
        crypto.blind_index(ID_NUMBER, CONTEXT)
    assert "YIWANG_DATA_KEYS is not set" in caplog.text
    assert "YIWANG_INDEX_KEY is not set" in caplog.text


def test_keys_are_read_from_the_environment_when_settings_leave_them_empty(monkeypatch):
    monkeypatch.setenv("YIWANG_DATA_KEYS", f"env1:{KEY_B}")
    with keys(data_keys=""):
        assert crypto.encrypt("x", CONTEXT).startswith("v1.env1.aesgcm.")


def test_generated_keys_are_accepted():
    with keys(data_keys=f"k1:{crypto.generate_key()}", index_key=crypto.generate_key()):
        assert crypto.decrypt(crypto.encrypt("x", CONTEXT), CONTEXT) == "x"
        assert len(crypto.blind_index("x", CONTEXT)) == 64


def test_key_material_never_appears_in_reprs():
    with keys():
        assert KEY_A not in repr(crypto.data_keys())
        assert repr(bytes(range(32))) not in repr(crypto.data_keys())


# ------------------------------------------------------------------------ blind index


def test_blind_index_is_deterministic_and_normalised():
    with keys():
        first = crypto.blind_index(ID_NUMBER, CONTEXT, normalise_id_number)
        assert crypto.blind_index(" 110105 19491231002x ", CONTEXT, normalise_id_number) == first
        assert crypto.blind_index("110105194912310021", CONTEXT, normalise_id_number) != first
        assert len(first) == 64 and int(first, 16) >= 0
        assert ID_NUMBER not in first


def test_blind_index_differs_per_context_and_per_key():
    with keys():
        person = crypto.blind_index(ID_NUMBER, "identity.person.id_number")
        agent = crypto.blind_index(ID_NUMBER, "identity.agent.id_number")
    with keys(index_key=OTHER_INDEX_KEY):
        other_key = crypto.blind_index(ID_NUMBER, "identity.person.id_number")
    assert len({person, agent, other_key}) == 3


def test_blind_index_does_not_depend_on_the_data_keys():
    with keys(data_keys=f"a:{KEY_A}"):
        before = crypto.blind_index(ID_NUMBER, CONTEXT)
    with keys(data_keys=f"b:{KEY_B},a:{KEY_A}"):
        assert crypto.blind_index(ID_NUMBER, CONTEXT) == before


def test_sm4_deployments_index_with_hmac_sm3():
    with keys(cipher="sm4"):
        assert crypto.index_algorithm() == "hmac-sm3"
        sm3 = crypto.blind_index(ID_NUMBER, CONTEXT)
    with keys():
        assert crypto.index_algorithm() == "hmac-sha256"
        assert crypto.blind_index(ID_NUMBER, CONTEXT) != sm3


@pytest.mark.parametrize("typed", ["13812345678", "+86 138-1234-5678", "0086 13812345678", "86-138 1234 5678"])
def test_phone_numbers_match_however_they_are_typed(typed):
    assert normalise_phone(typed) == "13812345678"


# ------------------------------------------------------------------------ model fields


class ProtectedPerson(models.Model):
    """Test-only model: its table is created by the test that needs it."""

    name = models.CharField(max_length=20, default="")
    id_number = EncryptedTextField("身份证号码")
    id_number_index = BlindIndexField(source="id_number", normaliser=normalise_id_number)
    phone = EncryptedTextField("手机号码", blank=True, null=True)

    class Meta:
        app_label = "core"
        managed = False
        db_table = "test_core_protected_person"


def test_field_context_is_app_model_and_field():
    assert ProtectedPerson._meta.get_field("id_number").context == "core.protectedperson.id_number"
    assert ProtectedPerson._meta.get_field("id_number_index").index_context == "core.protectedperson.id_number"


def test_field_stores_a_token_and_loads_the_value():
    field = ProtectedPerson._meta.get_field("id_number")
    with keys():
        stored = field.get_prep_value(ID_NUMBER)
        assert stored.startswith("v1.a.aesgcm.") and ID_NUMBER not in stored
        assert field.from_db_value(stored, None, connection) == ID_NUMBER
        assert field.get_prep_value(None) is None and field.from_db_value(None, None, connection) is None
        assert field.get_prep_value("") == ""


def test_explicit_context_survives_renames_and_migrations():
    field = EncryptedTextField(context="identity.person.id_number")
    field.set_attributes_from_name("citizen_id")
    field.contribute_to_class(type("Renamed", (models.Model,), {
        "__module__": __name__, "Meta": type("Meta", (), {"app_label": "core", "managed": False})}), "citizen_id")
    assert field.context == "identity.person.id_number"
    _, path, _, kwargs = field.deconstruct()
    assert path == "yiwang.core.fields.EncryptedTextField" and kwargs["context"] == "identity.person.id_number"


def test_blind_index_field_deconstructs_for_migrations():
    _, path, _, kwargs = ProtectedPerson._meta.get_field("id_number_index").deconstruct()
    assert path == "yiwang.core.fields.BlindIndexField"
    assert kwargs == {"source": "id_number", "normaliser": normalise_id_number}


@pytest.mark.parametrize("lookup", [
    {"id_number": ID_NUMBER}, {"id_number__startswith": "110"}, {"id_number__in": [ID_NUMBER]},
    {"id_number__icontains": "1949"}, {"id_number__lower": "x"},
])
def test_encrypted_fields_cannot_be_queried_by_value(lookup):
    with pytest.raises(FieldError, match="blind_match"):
        ProtectedPerson.objects.filter(**lookup)


@pytest.mark.parametrize("option", ["unique", "db_index", "primary_key"])
def test_encrypted_fields_refuse_unique_and_index_options(option):
    with pytest.raises(ImproperlyConfigured, match="BlindIndexField"):
        EncryptedTextField(**{option: True})


@pytest.fixture
def person_table(transactional_db):
    """The test model's table, for this test only (works on SQLite and PostgreSQL)."""
    with connection.schema_editor() as editor:
        editor.create_model(ProtectedPerson)
    yield
    with connection.schema_editor() as editor:
        editor.delete_model(ProtectedPerson)


def _raw_rows():
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, id_number_index, phone FROM test_core_protected_person ORDER BY id")
        return cursor.fetchall()


def test_the_database_holds_no_plain_personal_data(person_table):
    with keys():
        ProtectedPerson.objects.create(name="甲", id_number=ID_NUMBER, phone="13812345678")
        ProtectedPerson.objects.bulk_create([ProtectedPerson(name="乙", id_number="110105194912310045")])
        for id_number, index, phone in _raw_rows():
            assert id_number.startswith("v1.a.aesgcm.")
            assert "1949" not in id_number and "1949" not in index
            assert phone is None or (phone.startswith("v1.") and "13812345678" not in phone)
            assert len(index) == 64
        loaded = ProtectedPerson.objects.get(name="甲")
        assert (loaded.id_number, loaded.phone) == (ID_NUMBER, "13812345678")
        assert list(ProtectedPerson.objects.order_by("pk").values_list("id_number", flat=True)) == [
            ID_NUMBER, "110105194912310045"]


def test_people_are_found_by_exact_id_number_through_the_blind_index(person_table):
    with keys():
        ProtectedPerson.objects.create(name="甲", id_number=ID_NUMBER)
        ProtectedPerson.objects.create(name="乙", id_number="110105194912310045")
        found = ProtectedPerson.objects.filter(blind_match(ProtectedPerson, "id_number", " 11010519491231002x"))
        assert [p.name for p in found] == ["甲"]
        assert not ProtectedPerson.objects.filter(blind_match(ProtectedPerson, "id_number", "")).exists()
        assert ProtectedPerson.objects.filter(phone__isnull=True).count() == 2


def test_changing_the_value_updates_the_index(person_table):
    with keys():
        person = ProtectedPerson.objects.create(name="甲", id_number=ID_NUMBER)
        person.id_number = "110105194912310045"
        person.save()
        assert not ProtectedPerson.objects.filter(blind_match(ProtectedPerson, "id_number", ID_NUMBER)).exists()
        assert ProtectedPerson.objects.filter(
            blind_match(ProtectedPerson, "id_number", "110105194912310045")).get() == person


def test_rotate_model_field_reencrypts_old_rows_only(person_table):
    with keys(data_keys=f"a:{KEY_A}"):
        for i in range(5):
            ProtectedPerson.objects.create(name=f"p{i}", id_number=f"11010519491231{i:03d}X", phone="13812345678")
        ProtectedPerson.objects.create(name="blank", id_number="", phone=None)
    with keys(data_keys=f"b:{KEY_B},a:{KEY_A}"):
        ProtectedPerson.objects.create(name="new", id_number=ID_NUMBER)
        before = _raw_rows()
        assert rotate_model_field(ProtectedPerson, "id_number", batch=2) == 5
        after = _raw_rows()
        assert rotate_model_field(ProtectedPerson, "id_number") == 0
        assert after[-1] == before[-1], "the row already on key b is untouched"
        assert all(row[0].startswith("v1.b.") for row in after if row[0])
        assert all(row[2].startswith("v1.a.") for row in after if row[2]), "only the named field"
        assert [row[1] for row in after] == [row[1] for row in before], "indexes unchanged"
    with keys(data_keys=f"b:{KEY_B}"):
        rotated = ProtectedPerson.objects.exclude(name="blank").values_list("id_number", flat=True)
        assert sorted(rotated) == sorted(
            [f"11010519491231{i:03d}X" for i in range(5)] + [ID_NUMBER])


def test_rebuild_blind_index_after_a_new_index_key(person_table):
    with keys():
        ProtectedPerson.objects.create(name="甲", id_number=ID_NUMBER)
    with keys(index_key=OTHER_INDEX_KEY):
        assert not ProtectedPerson.objects.filter(blind_match(ProtectedPerson, "id_number", ID_NUMBER)).exists()
        assert rebuild_blind_index(ProtectedPerson, "id_number") == 1
        assert ProtectedPerson.objects.filter(blind_match(ProtectedPerson, "id_number", ID_NUMBER)).exists()


def test_a_tampered_row_fails_loudly_without_showing_the_value(person_table):
    with keys():
        ProtectedPerson.objects.create(name="甲", id_number=ID_NUMBER)
        token = _raw_rows()[0][0]
        with connection.cursor() as cursor:
            cursor.execute("UPDATE test_core_protected_person SET id_number = %s",
                           [crypto.encrypt(ID_NUMBER, "core.protectedperson.phone")])
        with pytest.raises(DecryptionFailed) as refused:
            ProtectedPerson.objects.get()
        assert ID_NUMBER not in refused.value.message and token not in refused.value.message
