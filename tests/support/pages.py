"""Reading a dashboard page's HTML: the error shown beside a field, the flashed messages, and the title and
labels every page has."""
import re


def error_for(html: str, field: str) -> str:
    """The error text shown beside ``field`` (its ``<field>-error`` element), or "" when there is none."""
    match = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', html)
    return match.group(1) if match else ""


def flashes(html: str) -> list[str]:
    """The text of each flashed message on the page, its white space collapsed."""
    return [re.sub(r"\s+", " ", text).strip() for text in re.findall(r'class="flash[^"]*"[^>]*>(.*?)</', html, re.S)]


def every_page_has_a_title_and_labels(html: str) -> None:
    """Assert the page has a "… · smsplatform" title and every visible input, select and textarea a label
    (a ``for=`` naming it, or an ``aria-label``)."""
    assert re.search(r"<title>[^<]+ · smsplatform</title>", html), "no \"… · smsplatform\" title"
    for input_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
        if 'type="hidden"' in html.split(f'id="{input_id}"')[0].rsplit("<", 1)[-1]:
            continue
        assert f'for="{input_id}"' in html or 'aria-label=' in html.split(f'id="{input_id}"')[1].split(">")[0] \
            or 'aria-label=' in html.split(f'id="{input_id}"')[0].rsplit("<", 1)[-1], input_id
