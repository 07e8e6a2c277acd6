from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "yiwang.cases"
    verbose_name = "办件"
    default_auto_field = "django.db.models.BigAutoField"
