"""Article bodies come from a CMS as authors pasted them: only an allow-list gets through.

nh3 (ammonia) parses the HTML properly and keeps only the tags, attributes and URL schemes
listed here; everything else (script, iframe, event handlers, ``javascript:`` and ``data:``
URLs, inline styles) is dropped. Never regexes.
"""

from __future__ import annotations

import nh3

_TAGS = {
    "a",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "em",
    "figcaption",
    "figure",
    "h2",
    "h3",
    "h4",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
_URL_SCHEMES = {"https", "http", "mailto", "tel"}


def sanitize_article_html(html: str) -> str:
    """The safe subset of ``html``: no scripts, no handlers, no script URLs, no styles."""
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
