"""Top-level routes: portal, back office, API, health."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from yiwang.applications import views_office as applications_office
from yiwang.cases import views_office as cases_office
from yiwang.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("accounts/totp/", include("yiwang.identity.urls_totp")),
    path("accounts/", include("yiwang.identity.urls")),
    path("account/", include("yiwang.identity.urls_account")),
    path("office/staff/", include("yiwang.identity.urls_staff")),
    path("office/oidc-clients/", include("yiwang.identity.urls_oidc_admin")),
    path("office/identity/", include("yiwang.identity.urls_office")),
    path("office/cases/", include("yiwang.cases.urls_office")),
    path("office/items/<str:code>/versions/<int:number>/form/", applications_office.version_form,
         name="office_version_form"),
    path("office/items/<str:code>/process/", cases_office.item_process, name="office_item_process"),
    path("office/webhooks/", include("yiwang.exchange.urls_office")),
    path("office/seals/", include("yiwang.seals.urls_office")),
    path("office/certificates/", include("yiwang.certificates.urls_office")),
    path("office/", include("yiwang.catalog.urls_office")),
    path("office/", include("yiwang.core.urls_office")),
    path("o/", include("yiwang.identity.urls_oidc", namespace="oauth2_provider")),
    path("api/v1/", include("yiwang.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("yiwang.seals.urls_public")),
    path("", include("yiwang.certificates.urls_portal")),
    path("", include("yiwang.cases.urls_portal")),
    path("", include("yiwang.catalog.urls_portal")),
]

handler400 = "yiwang.core.views.bad_request"
handler403 = "yiwang.core.views.forbidden"
handler404 = "yiwang.core.views.not_found"
handler500 = "yiwang.core.views.server_error"
