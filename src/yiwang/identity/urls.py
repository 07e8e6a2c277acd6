"""Account routes: sign in and sign out."""

from django.urls import path

from yiwang.identity import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
]
