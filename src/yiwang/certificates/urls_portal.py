from django.urls import include, path

from yiwang.certificates import views_portal as v

urlpatterns = [
    path("certificates/verify/", v.verify, name="certificate_verify"),
    path("", include("yiwang.certificates.urls_wallet")),
]
