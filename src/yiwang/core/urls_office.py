"""Back-office routes for regions and organisations, mounted under /office/."""

from django.urls import path

from yiwang.core import views_office as v

urlpatterns = [
    path("regions/", v.region_list, name="office_regions"),
    path("regions/<str:code>/edit/", v.region_edit, name="office_region_edit"),
    path("organizations/", v.organization_list, name="office_organizations"),
    path("organizations/new/", v.organization_create, name="office_organization_create"),
    path("organizations/<str:uscc>/edit/", v.organization_edit, name="office_organization_edit"),
    path("organizations/<str:uscc>/deactivate/", v.organization_deactivate, name="office_organization_deactivate"),
    path("organizations/<str:uscc>/reactivate/", v.organization_reactivate, name="office_organization_reactivate"),
]
