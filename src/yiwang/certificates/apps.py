from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "yiwang.certificates"
    verbose_name = "电子证照"
    default_auto_field = "django.db.models.BigAutoField"
