"""Small template helpers shared by every page: times people read at a glance (with
the exact time on hover) and amounts of coins."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma, naturaltime
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from core.markdown import markdown_to_safe_html

register = template.Library()


@register.simple_tag
def when(value):
    """``{% when model.created_at %}`` → <time title="2026-11-21 22:46:00 UTC">3 minutes
    ago</time>; a dash when there is no time."""
    if not value:
        return "—"
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        local.strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
        naturaltime(value),
    )


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None


@register.filter
def coins(value):
    """An amount of coins: two decimals and thousands separators (12,345.60)."""
    number = _decimal(value)
    if number is None:
        return value
    return intcomma(f"{number:.2f}")


@register.filter
def price(value):
    """A price per row: two decimals, more only when they matter (0.05, 0.0125, 1.00)."""
    number = _decimal(value)
    if number is None:
        return value
    text = f"{number:.4f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return intcomma(f"{whole}.{decimals.ljust(2, '0')}")


@register.filter
def safe_markdown(value):
    """Markdown a user wrote, as sanitised HTML (core.markdown)."""
    return mark_safe(markdown_to_safe_html(value or ""))  # noqa: S308 -- sanitised by nh3


@register.filter
def number(value):
    """A measured number the one way every page and chart shows it (static/js/charts.js
    ``formatNumber`` follows the same rule): thousands separators and at most three
    decimals (41,294.118; 0.5), exponent notation below 0.001 or from a billion
    (1.23e-4, 4.5e+9); a dash for none."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—" if value is None or value == "" else value
    if number != number or number in (float("inf"), float("-inf")):
        return "—"
    magnitude = abs(number)
    if magnitude and (magnitude >= 1e9 or magnitude < 1e-3):
        mantissa, exponent = f"{number:.2e}".split("e")
        return f"{mantissa}e{int(exponent):+d}"
    text = f"{number:.3f}".rstrip("0").rstrip(".")
    return intcomma("0" if text == "-0" else text)


@register.simple_tag
def metric(metrics, key):
    """``{% metric model.metrics "r2" %}``: one stored metric, three decimals (a dash
    when the model has none)."""
    value = (metrics or {}).get(key)
    if value is None:
        return "—"
    return f"{float(value):.3f}"


@register.filter
def share(value, signed=""):
    """A fraction as a percentage with one decimal (0.123 → "12.3 %"); ``share:"signed"``
    adds the sign of a change ("+4.0 points")."""
    try:
        percent = float(value) * 100
    except (TypeError, ValueError):
        return "—"
    if signed:
        return f"{percent:+.1f} points"
    return f"{percent:.1f} %"
