"""Catalog API (placeholder until the endpoints land)."""

from rest_framework import viewsets

from yiwang.catalog.models import ServiceItem, Theme


class ThemeViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Theme.objects.all()


class ItemViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = ServiceItem.objects.all()
