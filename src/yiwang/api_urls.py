"""/api/v1/ — one router for every app's viewsets."""

from rest_framework.routers import DefaultRouter

from yiwang.catalog import api as catalog_api
from yiwang.certificates import api as certificates_api
from yiwang.certificates import api_sharing as certificate_sharing_api
from yiwang.core import api as core_api
from yiwang.exchange import api as exchange_api

router = DefaultRouter()
router.register("regions", core_api.RegionViewSet, basename="region")
router.register("organizations", core_api.OrganizationViewSet, basename="organization")
router.register("themes", catalog_api.ThemeViewSet, basename="theme")
router.register("items", catalog_api.ItemViewSet, basename="item")
router.register("cases", exchange_api.CaseViewSet, basename="case")
router.register("certificates", certificates_api.CertificateViewSet, basename="certificate")
router.register("shared-certificates", certificate_sharing_api.SharedCertificateViewSet,
                basename="shared-certificate")

urlpatterns = router.urls
