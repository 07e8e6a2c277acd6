from django.urls import path

from yiwang.certificates import views_portal as v

urlpatterns = [
    path("certificates/verify/", v.verify, name="certificate_verify"),
]
