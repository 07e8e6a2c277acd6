"""Model fields for personal data: encrypted text and its blind index.

::

    class Person(models.Model):
        id_number = EncryptedTextField("身份证号码")
        id_number_index = BlindIndexField(source="id_number", normaliser=normalise_id_number,
                                          unique=True)

    Person.objects.filter(blind_match(Person, "id_number", "11010519491231002x"))

The encrypted column holds only tokens (see ``yiwang.core.crypto``); the instance attribute is
the plain value. The index column is filled from the source field on every ``save()`` and
``bulk_create()``. See ``docs/keys.md`` for what this does not cover (``update()``,
``bulk_update()``, ``update_fields``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models, transaction
from django.db.models import ExpressionWrapper, F, Q, Value

from yiwang.core import crypto
from yiwang.core.crypto import normalise_text


class EncryptedTextField(models.TextField):
    """加密存储的文本: stored as an authenticated token, read back as the plain value.

    The context bound into every token is ``"<app_label>.<model>.<field>"``. Renaming the model
    or the field changes it, so pass ``context=`` with the old name when renaming, or existing
    values will no longer decrypt. Only ``__isnull`` can be queried; exact look-up goes through a
    :class:`BlindIndexField`. An empty string is stored as is (it reveals nothing).
    """

    description = "Text encrypted at rest"
    allowed_lookups = frozenset({"isnull"})

    def __init__(self, *args: Any, context: str | None = None, **kwargs: Any):
        for option in ("primary_key", "unique", "db_index"):
            if kwargs.get(option):
                raise ImproperlyConfigured(
                    f"加密字段不能设置 {option}，请在盲索引字段上设置 / an encrypted field cannot be "
                    f"{option}: put it on a BlindIndexField instead")
        self.explicit_context = context
        self.context = context
        super().__init__(*args, **kwargs)

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only)
        if self.explicit_context is None:
            self.context = f"{cls._meta.label_lower}.{name}"

    def deconstruct(self) -> tuple[str, str, list[Any], dict[str, Any]]:
        name, _path, args, kwargs = super().deconstruct()
        if self.explicit_context is not None:
            kwargs["context"] = self.explicit_context
        return name, "yiwang.core.fields.EncryptedTextField", args, kwargs

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value, self.context)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return crypto.decrypt(value, self.context)

    def _refuse(self, lookup_name: str) -> None:
        raise FieldError(
            f"{self.context} 是加密字段，不能按内容查询（{lookup_name}）；请用盲索引 blind_match() / "
            f"{self.context} is encrypted and cannot be queried by value ({lookup_name}); "
            f"use its BlindIndexField via blind_match()")

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name not in self.allowed_lookups:
            self._refuse(lookup_name)
        return super().get_lookup(lookup_name)

    def get_transform(self, lookup_name: str) -> Any:
        self._refuse(lookup_name)

    def formfield(self, **kwargs: Any) -> forms.Field:
        # ID numbers, phones and addresses are one line, not a text area.
        return super().formfield(**{"widget": forms.TextInput, **kwargs})


class BlindIndexField(models.CharField):
    """盲索引: keyed hash of another field's normalised value, for exact look-up.

    ``source`` names the field holding the plain value (usually an :class:`EncryptedTextField`).
    ``context`` defaults to the source field's context; give two fields the same context (e.g.
    ``"citizen_id"``) when the same value must match across tables. ``normaliser`` must be a
    module-level function (migrations refer to it by import path).
    """

    description = "Keyed hash of another field, for exact look-up"

    def __init__(self, *args: Any, source: str, normaliser: Callable[[str], str] = normalise_text,
                 context: str | None = None, **kwargs: Any):
        self.source = source
        self.normaliser = normaliser
        self.explicit_context = context
        kwargs.setdefault("max_length", 64)
        if not kwargs.get("unique") and not kwargs.get("primary_key"):
            kwargs.setdefault("db_index", True)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[str, str, list[Any], dict[str, Any]]:
        name, _path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        if self.normaliser is not normalise_text:
            kwargs["normaliser"] = self.normaliser
        if self.explicit_context is not None:
            kwargs["context"] = self.explicit_context
        for option, default in (("max_length", 64), ("null", True), ("blank", True)):
            if kwargs.get(option) == default:
                del kwargs[option]
        if kwargs.get("db_index") and not kwargs.get("unique"):
            del kwargs["db_index"]
        kwargs.pop("editable", None)
        return name, "yiwang.core.fields.BlindIndexField", args, kwargs

    @property
    def index_context(self) -> str:
        if self.explicit_context is not None:
            return self.explicit_context
        source = self.model._meta.get_field(self.source)
        return getattr(source, "context", None) or f"{self.model._meta.label_lower}.{self.source}"

    def index_for(self, value: Any) -> str | None:
        """The index of a plain value; ``None`` for an empty value."""
        if value is None:
            return None
        text = str(value)
        if self.normaliser(text) == "":
            return None
        return crypto.blind_index(text, self.index_context, self.normaliser)

    def pre_save(self, model_instance: models.Model, add: bool) -> str | None:
        source = self.model._meta.get_field(self.source)
        value = self.index_for(getattr(model_instance, source.attname))
        setattr(model_instance, self.attname, value)
        return value


def _index_field_for(model: type[models.Model], source: str) -> BlindIndexField:
    for f in model._meta.get_fields():
        if isinstance(f, BlindIndexField) and f.source == source:
            return f
    raise FieldError(f"{model._meta.label} 的 {source} 没有盲索引字段 / {source} has no BlindIndexField")


def blind_match(model: type[models.Model], source: str, value: Any) -> Q:
    """A filter for rows whose ``source`` field equals ``value`` (after normalisation).

    An empty value matches nothing.
    """
    index_field = _index_field_for(model, source)
    index = index_field.index_for(value)
    if index is None:
        return Q(pk__in=[])
    return Q(**{index_field.name: index})


def _encrypted_field(model: type[models.Model], field_name: str) -> EncryptedTextField:
    f = model._meta.get_field(field_name)
    if not isinstance(f, EncryptedTextField):
        raise FieldError(f"{model._meta.label}.{field_name} is not an EncryptedTextField")
    return f


def rotate_model_field(model: type[models.Model], field_name: str, batch: int = 500) -> int:
    """Re-encrypt every stored value of ``field_name`` not made with the current key and cipher.

    Runs in transactions of ``batch`` rows (rows locked while rewritten), can be interrupted and
    re-run, and returns the number of rows rewritten. Blind indexes are not touched: they do not
    depend on the data keys.
    """
    f = _encrypted_field(model, field_name)
    prefix = crypto.current_token_prefix()
    raw = ExpressionWrapper(F(f.attname), output_field=models.TextField())
    manager = model._base_manager
    rotated = 0
    last_pk = None
    while True:
        with transaction.atomic(using=manager.db):
            pending = (manager.annotate(_stored_token=raw)
                       .exclude(_stored_token__isnull=True).exclude(_stored_token="")
                       .exclude(_stored_token__startswith=prefix))
            if last_pk is not None:
                pending = pending.filter(pk__gt=last_pk)
            rows = list(pending.order_by("pk").select_for_update()
                        .values_list("pk", "_stored_token")[:batch])
            if not rows:
                return rotated
            updates = []
            for pk, token in rows:
                obj = model(pk=pk)
                setattr(obj, f.attname, Value(crypto.rotate(token, f.context), output_field=models.TextField()))
                updates.append(obj)
            manager.bulk_update(updates, [f.name])
            rotated += len(rows)
            last_pk = rows[-1][0]


def rebuild_blind_index(model: type[models.Model], source: str, batch: int = 500) -> int:
    """Recompute the blind index of ``source`` on every row; returns the number of rows.

    Needed only after the index key or the cipher (and with it the index hash) has changed.
    """
    index_field = _index_field_for(model, source)
    manager = model._base_manager
    done = 0
    last_pk = None
    while True:
        with transaction.atomic(using=manager.db):
            rows = manager.order_by("pk").select_for_update().only("pk", source)
            if last_pk is not None:
                rows = rows.filter(pk__gt=last_pk)
            objs = list(rows[:batch])
            if not objs:
                return done
            for obj in objs:
                index_field.pre_save(obj, False)
            manager.bulk_update(objs, [index_field.name])
            done += len(objs)
            last_pk = objs[-1].pk
