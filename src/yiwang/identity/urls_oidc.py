"""/o/ — the OpenID Connect provider (django-oauth-toolkit, with our consent, discovery,
introspection and logout views). The toolkit's self-service application pages and the device
flow are deliberately not mounted: clients are registered by platform administrators
(/office/oidc-clients/).
"""

from django.urls import path, re_path
from oauth2_provider import views as dot

from yiwang.identity import views_oidc

app_name = "oauth2_provider"  # the toolkit reverses its own URL names in this namespace

urlpatterns = [
    path("authorize/", views_oidc.ConsentView.as_view(), name="authorize"),
    path("token/", dot.TokenView.as_view(), name="token"),
    path("revoke_token/", dot.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", views_oidc.IntrospectView.as_view(), name="introspect"),
    re_path(r"^\.well-known/openid-configuration/?$", views_oidc.DiscoveryView.as_view(),
            name="oidc-connect-discovery-info"),
    path(".well-known/jwks.json", dot.JwksInfoView.as_view(), name="jwks-info"),
    path("userinfo/", dot.UserInfoView.as_view(), name="user-info"),
    path("logout/", views_oidc.LogoutView.as_view(), name="rp-initiated-logout"),
]
