"""The staff second factor, mounted at /accounts/totp/."""

from django.urls import path

from yiwang.identity import views_totp

urlpatterns = [
    path("", views_totp.second_factor, name="totp"),
]
