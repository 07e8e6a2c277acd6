"""Account routes (mounted at /accounts/): register, sign in by password or SMS code, reset, sign out."""

from django.urls import path

from yiwang.identity import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/sms/", views.login_sms, name="login-sms"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("register/", views.register, name="register"),
    path("code/", views.request_code, name="request-code"),
    path("password/reset/", views.password_reset, name="password-reset"),
]
