"""Staff administration, mounted at /office/staff/."""

from django.urls import path

from yiwang.identity import views_staff as v

urlpatterns = [
    path("", v.staff_list, name="office_staff"),
    path("new/", v.staff_create, name="office_staff_create"),
    path("<str:username>/", v.staff_detail, name="office_staff_detail"),
    path("<str:username>/reset-totp/", v.staff_reset_totp, name="office_staff_reset_totp"),
    path("<str:username>/reset-password/", v.staff_reset_password, name="office_staff_reset_password"),
    path("<str:username>/deactivate/", v.staff_deactivate, name="office_staff_deactivate"),
    path("<str:username>/reactivate/", v.staff_reactivate, name="office_staff_reactivate"),
]
