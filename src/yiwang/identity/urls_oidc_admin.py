"""/office/oidc-clients/ — registration of single sign-on clients (platform administrators)."""

from django.urls import path

from yiwang.identity import views_oidc_admin as views

urlpatterns = [
    path("", views.client_list, name="oidc_client_list"),
    path("new/", views.client_create, name="oidc_client_create"),
    path("<slug:client_id>/", views.client_edit, name="oidc_client_edit"),
    path("<slug:client_id>/rotate-secret/", views.client_rotate_secret, name="oidc_client_rotate_secret"),
    path("<slug:client_id>/disable/", views.client_disable, name="oidc_client_disable"),
    path("<slug:client_id>/enable/", views.client_enable, name="oidc_client_enable"),
]
