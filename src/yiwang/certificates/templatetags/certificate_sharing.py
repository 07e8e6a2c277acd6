"""Template tags of 证照共享: the live verification of a certificate attached to a case (免提交)."""

from django import template

register = template.Library()


@register.simple_tag
def certificate_check(identifier: str):
    """The certificate's verification now (``.label``, ``.reason``, ``.ok``), from its identifier."""
    from yiwang.certificates import services

    return services.verify(identifier=identifier or "")
