from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "yiwang.applications"
    verbose_name = "网上申报"
    default_auto_field = "django.db.models.BigAutoField"
