"""Public portal routes: home, search, guides, themes, departments and the elder-mode switch."""

from django.urls import path

from yiwang.catalog import views_files
from yiwang.catalog import views_portal as views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search_page, name="search"),
    path("items/<str:code>/", views.guide, name="guide"),
    path("items/<str:code>/print/", views.guide_print, name="guide-print"),
    path("items/<str:code>/guide.pdf", views.guide_pdf, name="guide-pdf"),
    path("themes/<slug:code>/", views.theme, name="theme"),
    path("departments/", views.departments, name="departments"),
    path("departments/<str:uscc>/", views.department, name="department"),
    path("elder/", views.elder_toggle, name="elder"),
    path("media/<path:path>", views_files.material_file, name="material-file"),
]
