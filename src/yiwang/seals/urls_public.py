from django.urls import path

from yiwang.seals import views_public

urlpatterns = [
    path(".well-known/jwks.json", views_public.jwks, name="seals_jwks"),
    path(".well-known/yiwang-root-ca.pem", views_public.root_ca, name="seals_root_ca"),
]
