from django.urls import path

from yiwang.seals import views_office as v

urlpatterns = [
    path("", v.seal_list, name="office_seals"),
    path("apply/", v.seal_apply, name="office_seal_apply"),
    path("authorizations/", v.authorization_list, name="office_seal_authorizations"),
    path("authorizations/<int:pk>/withdraw/", v.authorization_withdraw, name="office_seal_authorization_withdraw"),
    path("<int:pk>/", v.seal_detail, name="office_seal"),
    path("<int:pk>/image.png", v.seal_image, name="office_seal_image"),
    path("<int:pk>/certificate.pem", v.seal_certificate, name="office_seal_certificate"),
    path("<int:pk>/<str:action>/", v.seal_action, name="office_seal_action"),
]
