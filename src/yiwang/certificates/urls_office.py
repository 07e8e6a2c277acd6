from django.urls import include, path

from yiwang.certificates import urls_wallet
from yiwang.certificates import views_office as v

urlpatterns = [
    path("", v.certificate_list, name="office_certificates"),
    path("types/", v.type_list, name="office_certificate_types"),
    path("types/new/", v.type_create, name="office_certificate_type_create"),
    path("types/<int:pk>/", v.type_edit, name="office_certificate_type_edit"),
    path("<int:pk>/", v.certificate_detail, name="office_certificate"),
    path("<int:pk>/pdf/", v.certificate_pdf, name="office_certificate_pdf"),
    path("<int:pk>/act/", v.certificate_act, name="office_certificate_act"),
    path("", include(urls_wallet.office_patterns)),
]
