from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "yiwang.catalog"
    verbose_name = "政务服务事项库"
    default_auto_field = "django.db.models.BigAutoField"
