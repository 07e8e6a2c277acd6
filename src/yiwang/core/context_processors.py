from django.conf import settings


def platform(request):
    from yiwang.identity import scoping

    return {
        "platform_name": settings.YIWANG_PLATFORM_NAME,
        "staff": scoping.staff_of(getattr(request, "user", None)),
        "elder_mode": request.COOKIES.get("elder") == "1",
    }
