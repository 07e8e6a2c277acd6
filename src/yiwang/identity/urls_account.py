"""Routes (filled in by the pages)."""

urlpatterns = []
