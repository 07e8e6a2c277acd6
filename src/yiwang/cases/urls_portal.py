from django.urls import path

from yiwang.cases import views_bundles as b
from yiwang.cases import views_portal as v

urlpatterns = [
    path("items/<str:code>/apply/", v.apply, name="case_apply"),
    path("items/<str:code>/apply/draft/", v.save_draft, name="case_draft"),
    path("items/<str:code>/apply/check/", v.check, name="case_check"),
    path("my/cases/", v.my_cases, name="my_cases"),
    path("my/messages/", v.my_messages, name="my_messages"),
    path("my/cases/<str:number>/", v.case_detail, name="my_case"),
    path("my/cases/<str:number>/submitted/", v.submitted, name="case_submitted"),
    path("my/cases/<str:number>/withdraw/", v.withdraw, name="case_withdraw"),
    path("my/cases/<str:number>/resubmit/", v.resubmit, name="case_resubmit"),
    path("cases/<str:number>/documents/<int:doc_id>/", v.document_download, name="case_document"),
    path("cases/<str:number>/materials/<int:material_id>/", v.material_download, name="case_material"),
    path("cases/<str:number>/qr.png", v.qr_png, name="case_qr"),
    path("cases/<str:number>/step-files/<int:file_id>/", v.step_file, name="case_step_file"),
    path("track/", v.track, name="case_track"),
    path("bundles/", b.bundle_list, name="bundles"),
    path("bundles/<slug:code>/", b.bundle_apply, name="bundle_apply"),
    path("my/bundles/<str:number>/", b.my_bundle, name="my_bundle"),
]
