from django.urls import path

from yiwang.exchange import views_office as v

urlpatterns = [
    path("", v.subscription_list, name="office_webhooks"),
    path("new/", v.subscription_create, name="office_webhook_create"),
    path("<int:pk>/", v.subscription_detail, name="office_webhook"),
    path("<int:pk>/deactivate/", v.subscription_deactivate, name="office_webhook_deactivate"),
    path("deliveries/<int:pk>/resend/", v.delivery_resend, name="office_webhook_resend"),
]
