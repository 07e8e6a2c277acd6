from django.urls import path

from yiwang.cases import views_office as v

urlpatterns = [
    path("", v.todo, name="office_todo"),
    path("store/", v.case_store, name="office_case_store"),
    path("<str:number>/", v.case_file, name="office_case"),
    path("<str:number>/act/", v.act, name="office_case_act"),
    path("<str:number>/suspend/", v.suspend, name="office_case_suspend"),
    path("<str:number>/resume/", v.resume, name="office_case_resume"),
    path("<str:number>/extend/", v.extend, name="office_case_extend"),
    path("<str:number>/extension/", v.decide_extension, name="office_case_extension"),
]
