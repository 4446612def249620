"""English and Simplified Chinese: chosen from the browser, switchable, fully translated."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings

from tests.web.conftest import make_image

LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
ENTRY = re.compile(r'^msgid "(.*)"$', re.MULTILINE)


def test_the_browser_language_picks_chinese(alice_client, alice):
    image = make_image(alice)
    for path in ("/", "/gallery/", f"/gallery/{image.pk}/", "/credits/", "/keys/"):
        r = alice_client.get(path, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
        assert r.status_code == 200, path
        content = r.content.decode()
        assert '<html lang="zh-hans">' in content, path
        assert "图库" in content and "Gallery</a>" not in content, path


def test_dates_and_numbers_follow_the_language(alice_client, alice):
    image = make_image(alice)
    r = alice_client.get(f"/gallery/{image.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    year = image.generation.created_at.year
    assert f"{year}年" in r.content.decode()
    r = alice_client.get(f"/gallery/{image.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert f", {year}," in r.content.decode()


def test_the_language_can_be_switched(alice_client):
    r = alice_client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/gallery/"})
    assert r.status_code == 302 and r.url == "/gallery/"
    r = alice_client.get("/gallery/", HTTP_ACCEPT_LANGUAGE="en")
    assert "图库" in r.content.decode()
    r = alice_client.get("/")
    assert 'action="/i18n/setlang/"' in r.content.decode()
    # Each language is its own button: nothing switches until one is pressed (WCAG 3.2.2).
    content = r.content.decode()
    assert '<span lang="zh-hans" aria-current="true">简体中文</span>' in content
    assert 'name="language" value="en" lang="en">English</button>' in content
    assert "<select" not in content.split("</nav>")[0]
    r = alice_client.post("/i18n/setlang/", {"language": "en", "next": "/gallery/"})
    assert "Gallery</a>" in alice_client.get("/gallery/").content.decode()


def test_signed_out_pages_are_translated_too(client, db):
    r = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "登录" in r.content.decode()


def po_entries() -> list[tuple[str, str, bool]]:
    """(msgid, first msgstr, fuzzy) for each entry of the catalogue, joined across lines."""
    entries, text = [], (LOCALE / "django.po").read_text()
    for block in text.split("\n\n")[1:]:
        fuzzy = "#, fuzzy" in block
        pieces: dict[str, list[str]] = {}
        key = None
        for line in block.splitlines():
            if match := re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[0\])?) "(.*)"$', line):
                key = match.group(1).replace("[0]", "")
                pieces.setdefault(key, []).append(match.group(2))
            elif line.startswith('"') and key:
                pieces[key].append(line[1:-1])
        if "msgid" in pieces:
            msgid = "".join(pieces["msgid"])
            if "msgctxt" in pieces:  # how gettext keys a message with a context
                msgid = "".join(pieces["msgctxt"]) + "\x04" + msgid
            entries.append((msgid, "".join(pieces.get("msgstr", [])), fuzzy))
    return entries


def test_every_message_is_translated():
    entries = po_entries()
    assert len(entries) > 200
    for msgid, msgstr, fuzzy in entries:
        assert msgstr and not fuzzy, msgid
        placeholders = set(re.findall(r"%\(\w+\)\w", msgid))
        assert placeholders == set(re.findall(r"%\(\w+\)\w", msgstr)), msgid


def test_the_compiled_catalogue_matches_the_source():
    # CI has no gettext: the .mo is committed, so it must not lag behind the .po.
    with open(LOCALE / "django.mo", "rb") as f:
        compiled = gettext.GNUTranslations(f)
    for msgid, msgstr, _fuzzy in po_entries():
        unescaped = msgid.encode().decode("unicode_escape").encode("latin-1").decode()
        expected = msgstr.encode().decode("unicode_escape").encode("latin-1").decode()
        assert compiled._catalog.get(unescaped, compiled._catalog.get((unescaped, 0))) == (
            expected
        ), msgid


TRANSLATE_TAG = re.compile(r"""\{% translate (["'])(.+?)\1""")


TEMPLATES = Path(settings.BASE_DIR) / "templates"


# By path: allauth's layouts bring a second base.html (templates/allauth/layouts/).
@pytest.mark.parametrize(
    "template", sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html"))
)
def test_template_strings_are_in_the_catalogue(template):
    path = TEMPLATES / template
    known = {msgid for msgid, _s, _f in po_entries()}
    for _quote, text in TRANSLATE_TAG.findall(path.read_text()):
        assert text in known, f"{template}: run makemessages and translate “{text}”"


def test_option_values_are_shown_in_the_language_but_sent_as_the_vendor_spells_them(
    alice_client, alice
):
    from accounts.vault import add_credential

    credential = add_credential(alice, "aioagi", "key", "sk-aioagi-0123456789abcdef")
    query = {"key": credential.pk, "model": "gpt-image-2"}
    r = alice_client.get("/generate/form/", query, HTTP_ACCEPT_LANGUAGE="zh-hans")
    content = r.content.decode()
    for value, label in (("low", "低"), ("high", "高"), ("auto", "自动"), ("transparent", "透明")):
        assert f'<option value="{value}">{label}</option>' in content, value
    r = alice_client.get("/generate/form/", query, HTTP_ACCEPT_LANGUAGE="en")
    assert '<option value="transparent">transparent</option>' in r.content.decode()


def test_the_vendors_reasons_are_in_the_language_of_the_request():
    from django.utils import translation

    from studio.vendors import get_adapter
    from studio.vendors.base import GenerationRequest, balance_verification

    adapter = get_adapter("aioagi", None)
    request = GenerationRequest(
        scene="text-to-image",
        model="gpt-image-2",
        prompt=" ",
        params={"background": "transparent", "output_format": "jpeg", "n": 99},
    )
    with translation.override("zh-hans"):
        errors = adapter.validate(request)
        accepted = balance_verification("AIOAGI", None, None).message
    assert errors["prompt"] == "请填写提示词。"
    assert errors["background"] == "透明背景需要 png 或 webp 输出。"
    assert "张图片" in errors["n"]
    assert accepted == "AIOAGI 接受了此密钥；它不报告余额。"
    with translation.override("en"):
        assert adapter.validate(request)["prompt"] == "Write a prompt."


def test_counts_take_the_right_plural_in_english():
    from django.utils import translation

    from studio.vendors import get_adapter
    from studio.vendors.base import GenerationRequest, Reference

    adapter = get_adapter("aioagi", None)
    spec = adapter.capabilities.model("gpt-image-2")
    many = [Reference(role="image", data=b"x")] * (spec.max_references + 1)
    request = GenerationRequest(scene="edit", model="gpt-image-2", prompt="p", references=many)
    with translation.override("en"):
        message = adapter.validate(request)["references"]
    noun = "image" if spec.max_references == 1 else "images"
    assert message.endswith(f"takes at most {spec.max_references} {noun}."), message


def test_every_plural_in_the_catalogue_has_its_chinese_form():
    text = (LOCALE / "django.po").read_text()
    blocks = [b for b in text.split("\n\n") if "msgid_plural" in b]
    assert len(blocks) >= 8
    for block in blocks:
        assert 'msgstr[0] "' in block and 'msgstr[0] ""' not in block, block


GETTEXT = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy"}
PGETTEXT = {"pgettext", "pgettext_lazy", "npgettext", "npgettext_lazy"}


def python_messages() -> list[tuple[str, str]]:
    """(file, msgid) for every literal message our Python code marks for translation."""
    import ast

    found = []
    for package in ("studio", "accounts"):
        for path in (Path(settings.BASE_DIR) / package).rglob("*.py"):
            if "migrations" in path.parts or "fakes" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                    continue
                args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
                if node.func.id in GETTEXT and args and isinstance(args[0], str):
                    found.append((path.name, args[0]))
                elif node.func.id in PGETTEXT and len(args) > 1 and isinstance(args[1], str):
                    found.append((path.name, f"{args[0]}\x04{args[1]}"))
    return found


def test_python_messages_are_in_the_catalogue():
    known = {
        msgid.encode().decode("unicode_escape").encode("latin-1").decode()
        for msgid, _s, _f in po_entries()
    }
    messages = python_messages()
    assert len(messages) > 100
    missing = sorted({(name, msgid) for name, msgid in messages if msgid not in known})
    assert missing == [], "add these to locale/zh_Hans/LC_MESSAGES/django.po and translate them"
