"""Identity pages of the workbench, mounted at /office/identity/."""

from django.urls import path

from yiwang.identity import views_clerk

urlpatterns = [
    path("verify/", views_clerk.verify, name="office_identity_verify"),
]
