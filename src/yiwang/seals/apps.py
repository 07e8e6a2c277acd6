from django.apps import AppConfig


class SealsConfig(AppConfig):
    name = "yiwang.seals"
    verbose_name = "电子印章"
    default_auto_field = "django.db.models.BigAutoField"
