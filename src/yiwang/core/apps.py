from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "yiwang.core"
    verbose_name = "平台基础"
    default_auto_field = "django.db.models.BigAutoField"
