"""Markdown written by users (a model card), rendered to HTML that is safe to put in a
page: Python-Markdown turns it into HTML (raw HTML in the text included), then nh3
(the ammonia sanitiser) keeps only an allow-list of tags and attributes and only
http, https and mailto links, so ``<script>``, event handlers, ``style`` and
``javascript:`` URLs never reach the page."""

from __future__ import annotations

import markdown
import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "strong", "sub", "sup", "table", "tbody",
    "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"}, "th": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}


def markdown_to_safe_html(text: str) -> str:
    """``text`` (Markdown) as sanitised HTML; links get ``rel="nofollow noopener
    noreferrer"``. Images are left out: the page's Content-Security-Policy would block
    other sites' images anyway."""
    if not text:
        return ""
    html = markdown.markdown(text, extensions=["tables", "fenced_code", "sane_lists"], output_format="html")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
