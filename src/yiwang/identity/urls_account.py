"""我的账号, mounted at /account/."""

from django.urls import path

from yiwang.identity import views_account as v

urlpatterns = [
    path("", v.overview, name="account_overview"),
    path("acting/", v.acting_switch, name="account_acting"),
    path("level/", v.level, name="account_level"),
    path("enterprises/", v.enterprises, name="account_enterprises"),
    path("enterprises/<str:uscc>/", v.enterprise_detail, name="account_enterprise"),
    path("enterprises/<str:uscc>/agents/<int:pk>/revoke/", v.agent_revoke, name="account_agent_revoke"),
    path("logins/", v.logins, name="account_logins"),
    path("applications/", v.applications, name="account_applications"),
    path("applications/<int:app_id>/revoke/", v.application_revoke, name="account_application_revoke"),
]
