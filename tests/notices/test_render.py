"""The sanitiser keeps a notice body harmless, whatever an officer (or a stolen account) types."""

import re
from html.parser import HTMLParser

import pytest

from chonaikai.notices.render import excerpt, plain_text, render_html, sanitise

# A corpus of XSS payloads, from the classic filter-evasion lists.
XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/xss.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<body onload=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<a href=\"#\" onclick=\"alert(1)\">x</a>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=javascript:alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<!--<script>alert(1)</script>-->",
    "<<script>script>alert(1)<</script>/script>",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "![x](javascript:alert(1))",
    "![x](https://evil.example/track.png)",
    "<a href=\"https://example.jp\" onmouseover=\"alert(1)\">ok</a>",
    "[a](https://example.jp \"title\\\" onmouseover=alert(1) x=\\\"\")",
    "<style>body{display:none}</style>",
    "<base href=\"https://evil.example/\">",
    "<link rel=stylesheet href=https://evil.example/x.css>",
]


SAFE_TAGS = {"p", "br", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "strong", "em", "a", "blockquote",
             "hr", "code", "pre", "table", "thead", "tbody", "tr", "th", "td", "del"}


class Elements(HTMLParser):
    """The real elements and attributes of the output (escaped text is not an element)."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in SAFE_TAGS:
            self.problems.append(f"tag {tag}")
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "src", "action", "data", "formaction"):
                self.problems.append(f"attribute {name}")
            if name == "href" and not re.match(r"^(https?:|mailto:|tel:|#|/)", (value or "").strip(), re.I):
                self.problems.append(f"href {value}")


def dangerous(html: str) -> list[str]:
    parser = Elements()
    parser.feed(html)
    return parser.problems


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_sanitiser_removes_scripts_handlers_and_script_links(payload):
    html = str(render_html(f"お知らせです。\n\n{payload}\n\nおわり"))
    assert dangerous(html) == [], html
    assert "おわり" in html  # the rest of the notice survives


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_sanitiser_alone_cleans_raw_html(payload):
    # The parser escapes raw HTML already; the sanitiser must hold even if that ever changes.
    assert dangerous(sanitise(payload)) == []


def test_the_check_itself_catches_danger():
    # The detector above must be able to fail, or the corpus proves nothing.
    assert dangerous('<a href="javascript:alert(1)">x</a>') == ["href javascript:alert(1)"]
    assert dangerous("<img src=x onerror=alert(1)>") == ["tag img", "attribute src", "attribute onerror"]
    assert dangerous("&lt;script&gt;alert(1)&lt;/script&gt;") == []  # escaped text is harmless


def test_safe_markdown_is_kept():
    html = str(render_html("# 見出し\n\n**太字**と[市のページ](https://example.jp)\n\n- いち\n- に\n\n電話 [022-000-0000](tel:0220000000)"))
    assert "<h2>見出し</h2>" in html  # the notice title is the h1, so body headings start at h2
    assert "<strong>太字</strong>" in html
    assert 'href="https://example.jp"' in html and 'rel="noopener noreferrer nofollow"' in html
    assert "<li>いち</li>" in html
    assert 'href="tel:0220000000"' in html


def test_line_breaks_stay_line_breaks():
    assert "<br>" in str(render_html("一行目\n二行目"))


def test_plain_text_for_mail_and_line():
    body = "## 日時\n\n3月1日 **午前10時**から\n場所は[公民館](https://example.jp/map)\n\n- 軍手\n- タオル\n\n1. 集合\n2. 清掃"
    text = plain_text(body)
    assert text == (
        "日時\n\n3月1日 午前10時から\n場所は公民館 (https://example.jp/map)\n\n・軍手\n・タオル\n\n1. 集合\n2. 清掃"
    )
    assert "**" not in text and "##" not in text


def test_plain_text_does_not_execute_or_keep_markup_meaning():
    # Plain text is for channels that never render HTML; raw HTML stays visible text, not markup.
    assert plain_text("<b>x</b>") == "<b>x</b>"


def test_excerpt_is_one_line_and_cut_with_an_ellipsis():
    body = "町内の一斉清掃を行います。\n\nご近所の皆さまで、気持ちよく暮らせる町にしましょう。"
    assert excerpt(body, 200) == "町内の一斉清掃を行います。 ご近所の皆さまで、気持ちよく暮らせる町にしましょう。"
    short = excerpt(body, 10)
    assert len(short) == 10 and short.endswith("…") and "\n" not in short
    assert excerpt("", 10) == ""


def test_fold_for_search():
    from chonaikai.notices.render import fold

    assert fold("ゴミ　ＡＥＤ ２０２６ ｶﾞｽ") == "ごみ aed 2026 がす"
    assert fold("ヴ") == "ゔ" and fold("ー") == "ー"  # the long vowel mark is not a kana letter
