"""Routes of 证照共享: the holder's wallet (portal, ``urlpatterns``) and the office pages for shared
certificates, case certificates and historic imports (``office_patterns``, under /office/certificates/)."""

from django.urls import path

from yiwang.certificates import views_import as vi
from yiwang.certificates import views_wallet as v

urlpatterns = [
    path("my/certificates/", v.wallet_list, name="wallet"),
    path("my/certificates/<int:pk>/", v.wallet_detail, name="wallet_certificate"),
    path("my/certificates/<int:pk>/pdf/", v.wallet_pdf, name="wallet_certificate_pdf"),
    path("my/certificates/<int:pk>/grants/", v.wallet_grant, name="wallet_grant"),
    path("my/certificates/<int:pk>/grants/<int:grant_id>/revoke/", v.wallet_revoke, name="wallet_grant_revoke"),
]

office_patterns = [
    path("shared/", v.shared_list, name="office_shared_certificates"),
    path("shared/<int:grant_id>/", v.shared_open, name="office_shared_certificate"),
    path("case/<str:number>/<int:material_id>/", v.case_certificate, name="office_case_certificate"),
    path("import/", vi.import_start, name="office_certificate_import"),
    path("import/template/<int:type_id>.csv", vi.import_template, name="office_certificate_import_template"),
    path("import/<int:pk>/", vi.import_run, name="office_certificate_import_run"),
    path("import/<int:pk>/confirm/", vi.import_confirm, name="office_certificate_import_confirm"),
    path("import/<int:pk>/progress.json", vi.import_progress, name="office_certificate_import_progress"),
]
