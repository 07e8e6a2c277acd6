"""Back-office routes of the service catalog, mounted under /office/."""

from django.urls import path

from yiwang.catalog import views_office as v

urlpatterns = [
    path("", v.dashboard, name="office_dashboard"),
    path("items/", v.item_list, name="office_items"),
    path("items/new/", v.item_create, name="office_item_create"),
    path("items/<str:code>/", v.item_detail, name="office_item"),
    path("items/<str:code>/revise/", v.item_revise, name="office_item_revise"),
    path("items/<str:code>/retire/", v.item_retire, name="office_item_retire"),
    path("items/<str:code>/compare/", v.item_compare, name="office_item_compare"),
    path("items/<str:code>/history/", v.item_history, name="office_item_history"),
    path("items/<str:code>/versions/<int:number>/", v.version_detail, name="office_version"),
    path("items/<str:code>/versions/<int:number>/edit/", v.version_edit, name="office_version_edit"),
    path("items/<str:code>/versions/<int:number>/submit/", v.version_action, {"action": "submit"},
         name="office_version_submit"),
    path("items/<str:code>/versions/<int:number>/review/", v.version_action, {"action": "review"},
         name="office_version_review"),
    path("items/<str:code>/versions/<int:number>/publish/", v.version_action, {"action": "publish"},
         name="office_version_publish"),
]
