"""Every URL of the project, signed in, with hostile values in each parameter it reads: never a 5xx.

Bad input is a 404 (an id that cannot be anyone's) or a form that says what is wrong. The table
below names, for every URL pattern, the query and form fields its view reads; the URL's own
kwargs come from the pattern. A URL without an entry fails `test_every_url_says_what_it_reads`.
Each hostile request is the owner's valid one from tests/test_authorization.py with one
parameter swapped, sent by GET and by POST, with and without htmx.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from allauth.account.forms import (
    AddEmailForm,
    ChangePasswordForm,
    ReauthenticateForm,
    ResetPasswordForm,
    ResetPasswordKeyForm,
)
from allauth.mfa.base.forms import AuthenticateForm
from allauth.mfa.recovery_codes.forms import GenerateRecoveryCodesForm
from allauth.mfa.totp.forms import ActivateTOTPForm, DeactivateTOTPForm
from allauth.mfa.webauthn.forms import AddWebAuthnForm, EditWebAuthnForm, LoginWebAuthnForm
from django.http import QueryDict
from django.test import Client

from accounts.forms import CredentialForm, ProfileForm
from accounts.teams import InviteForm, RuleForm, TeamForm
from studio.api.forms import TokenForm
from studio.compare.forms import CompareForm
from studio.compare.services import MAX_TARGETS
from studio.money.forms import BudgetForm, PriceForm, ShareForm
from studio.sharing import services as sharing
from studio.sharing.forms import AddToCollectionForm, CollectionForm, ShareLinkForm
from studio.web.credits import LedgerFilters
from studio.web.forms import PARAM_LABELS, GenerateForm
from studio.web.gallery import BulkForm, GalleryFilters
from studio.web.jobs import JobFilters
from tests.test_authorization import (
    EXCLUDED_PREFIXES,
    ROUTES,
    objects,
    patterns,
    plain,
    url_for,
    with_sso_provider,
)
from tests.web.conftest import make_image

HOSTILE = {
    "huge": "99999999999999999999",  # past every integer column: SQLite's OverflowError
    "bigint+1": str(2**63),  # one past the primary keys
    "negative": "-1",
    "nul": "\x00",
    "long": "9" * 10_000,
    "unicode": "ℌ𝔢𝔩𝔩𝔬 漢字 ١٢٣",  # with Arabic-Indic digits, which int() accepts
    "last day": "9999-12-31",  # the day after does not exist
    "first day": "0001-01-01",  # its start is before year 1 east of UTC
    "year 0": "0000-01-01",
    "cursor before year 1": "0001-01-01T00:00:00+14:00~1",
    "list": ["1", "99999999999999999999"],  # repeated where one value is expected
}


@dataclass(frozen=True)
class Reads:
    """Fields a view reads from the query string or the form, each sent hostile on top of
    `query` (None: the route's valid query from tests/test_authorization.py)."""

    names: tuple[str, ...]
    query: str | None = None


GENERATE = Reads((*GenerateForm.base_fields, *PARAM_LABELS, "from", "refresh"))
GALLERY = (*GalleryFilters.base_fields, "after")
NEXT = Reads(("next",))
# Every target row is read by the same code: the first and the last row stand for the rest
# (all rows cost the walk over two minutes on each database).
COMPARE_ROWS = [f"{name}_{i}" for i in (0, MAX_TARGETS - 1) for name in ("target", "n", "quality")]
NOTHING: tuple[Reads, ...] = ()

READS: dict[str, tuple[Reads, ...]] = {
    "": (GENERATE,),
    "generate/form/": (GENERATE,),
    "jobs/": (Reads((*JobFilters.base_fields, "after")),),
    "jobs/<id:pk>/": (Reads(("seen",)),),
    "jobs/<id:pk>/cancel/": (NEXT,),
    "jobs/<id:pk>/retry/": (NEXT,),
    "jobs/<id:pk>/dismiss/": (NEXT,),
    "gallery/": (Reads((*GALLERY, "deleted")),),
    "gallery/bulk/": (Reads(("image", *BulkForm.base_fields, "next")),),
    "gallery/restore/": (Reads(("image",)),),
    "downloads/settings/": (Reads(("embed_metadata",)),),
    "gallery/<id:pk>/": NOTHING,
    "gallery/<id:pk>/favourite/": (Reads(("favourite",)),),
    "gallery/<id:pk>/reference/": NOTHING,
    "gallery/<id:pk>/delete/": NOTHING,
    "gallery/<id:pk>/restore/": NOTHING,
    "images/<id:pk>/": NOTHING,
    "images/<id:pk>/thumbnail/": NOTHING,
    "images/<id:pk>/download/": NOTHING,
    "references/<id:pk>/": NOTHING,
    "credits/": (Reads((*LedgerFilters.base_fields, "after")),),
    "credits/export.csv": (Reads(tuple(LedgerFilters.base_fields)),),
    "healthz": NOTHING,
    # allauth's forms build some fields in __init__: the names it posts are listed too.
    "accounts/signup/": (Reads(("username", "email", "password1", "password2", "next")),),
    "accounts/login/": (Reads(("username", "password", "remember", "next")),),
    "accounts/logout/": (NEXT,),
    "accounts/profile/": (Reads(tuple(ProfileForm.base_fields)),),
    "accounts/inactive/": NOTHING,
    "accounts/security/": NOTHING,
    "accounts/security/sign-out-others/": NOTHING,
    "accounts/reauthenticate/": (Reads((*ReauthenticateForm.base_fields, "next")),),
    "accounts/email/": (
        Reads(
            (
                *AddEmailForm.base_fields,
                "action_add",
                "action_send",
                "action_remove",
                "action_primary",
            )
        ),
    ),
    "accounts/confirm-email/": NOTHING,
    "accounts/^confirm-email/(?P<key>[-:\\w]+)/$": NOTHING,
    "accounts/password/change/": (
        Reads((*ChangePasswordForm.base_fields, "oldpassword", "password1", "password2")),
    ),
    "accounts/password/set/": (Reads(("password1", "password2")),),
    "accounts/password/reset/": (Reads(tuple(ResetPasswordForm.base_fields)),),
    "accounts/password/reset/done/": NOTHING,
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": (
        Reads((*ResetPasswordKeyForm.base_fields, "password1", "password2")),
    ),
    "accounts/password/reset/key/done/": NOTHING,
    "accounts/login/code/confirm/": (Reads(("code", "next")),),
    "accounts/2fa/": NOTHING,
    "accounts/2fa/authenticate/": (Reads((*AuthenticateForm.base_fields, "credential")),),
    "accounts/2fa/reauthenticate/": (Reads((*AuthenticateForm.base_fields, "next")),),
    "accounts/2fa/totp/activate/": (Reads((*ActivateTOTPForm.base_fields, "next")),),
    "accounts/2fa/totp/deactivate/": (Reads((*DeactivateTOTPForm.base_fields, "next")),),
    "accounts/2fa/recovery-codes/": NOTHING,
    "accounts/2fa/recovery-codes/generate/": (Reads(tuple(GenerateRecoveryCodesForm.base_fields)),),
    "accounts/2fa/recovery-codes/download/": NOTHING,
    "accounts/2fa/webauthn/": NOTHING,
    "accounts/2fa/webauthn/add/": (Reads((*AddWebAuthnForm.base_fields, "credential", "next")),),
    "accounts/2fa/webauthn/reauthenticate/": (Reads(("credential", "next")),),
    "accounts/2fa/webauthn/keys/<id:pk>/remove/": (NEXT,),
    "accounts/2fa/webauthn/keys/<id:pk>/edit/": (Reads(tuple(EditWebAuthnForm.base_fields)),),
    "accounts/2fa/webauthn/login/": (Reads((*LoginWebAuthnForm.base_fields, "next")),),
    "accounts/3rdparty/": (Reads(("account",)),),
    "accounts/3rdparty/login/cancelled/": NOTHING,
    "accounts/3rdparty/login/error/": NOTHING,
    "accounts/3rdparty/signup/": (Reads(("username", "email", "next")),),
    "accounts/oidc/<str:provider_id>/login/": (Reads(("process", "next")),),
    "accounts/oidc/<str:provider_id>/login/callback/": (
        Reads(("code", "state", "error", "error_description")),
    ),
    "keys/": NOTHING,
    "keys/add/": (Reads(tuple(CredentialForm.base_fields)),),
    "keys/<id:pk>/replace/": (Reads(tuple(CredentialForm.base_fields)),),
    "keys/<id:pk>/verify/": NOTHING,
    "keys/<id:pk>/default/": NOTHING,
    "keys/<id:pk>/revoke/": NOTHING,
    "keys/<id:pk>/delete/": NOTHING,
    "i18n/setlang/": (Reads(("language", "next")),),
    "r/<str:token>/": NOTHING,
    "teams/": (Reads(tuple(TeamForm.base_fields)),),
    "teams/<id:pk>/": NOTHING,
    "teams/<id:pk>/invite/": (Reads(tuple(InviteForm.base_fields)),),
    "teams/<id:pk>/invite-link/": NOTHING,
    "teams/<id:pk>/invites/<id:invite_pk>/cancel/": NOTHING,
    "teams/<id:pk>/members/<id:member_pk>/remove/": NOTHING,
    "teams/<id:pk>/members/<id:member_pk>/owner/": NOTHING,
    "teams/<id:pk>/leave/": NOTHING,
    "teams/<id:pk>/sign-in-rule/": (Reads(tuple(RuleForm.base_fields)),),
    "teams/invites/<id:pk>/accept/": NOTHING,
    "teams/invites/<id:pk>/decline/": NOTHING,
    "teams/join/<str:token>/": (Reads(("answer",)),),
    "collections/": (Reads(tuple(CollectionForm.base_fields)),),
    "collections/add/": (Reads(("image", *AddToCollectionForm.base_fields, "next")),),
    "collections/<id:pk>/": (Reads(tuple(CollectionForm.base_fields)),),
    "collections/<id:pk>/delete/": NOTHING,
    "collections/<id:pk>/download/": NOTHING,
    "collections/<id:pk>/items/<id:item_pk>/move/": (Reads(("direction",)),),
    "collections/<id:pk>/items/<id:item_pk>/remove/": NOTHING,
    "links/": NOTHING,
    "links/<id:pk>/revoke/": NOTHING,
    "shared/": NOTHING,
    "shared/<id:pk>/": (Reads(("page",)),),
    "shared/<id:pk>/download/": NOTHING,
    "shared/<id:pk>/i/<id:image_id>/": NOTHING,
    "shared/<id:pk>/i/<id:image_id>/thumb/": NOTHING,
    "shared/<id:pk>/i/<id:image_id>/download/": NOTHING,
    "s/<str:token>/": (Reads(("page",)),),
    "s/<str:token>/download/": NOTHING,
    "s/<str:token>/i/<id:image_id>/": NOTHING,
    "s/<str:token>/i/<id:image_id>/thumb/": NOTHING,
    "s/<str:token>/i/<id:image_id>/download/": NOTHING,
    # --- Compare ---
    "compare/": (Reads(("q", "after")),),
    "compare/new/": (Reads((*CompareForm.base_fields, *COMPARE_ROWS, "preview")),),
    "compare/<id:pk>/": NOTHING,
    "compare/<id:pk>/verdict/": (Reads(("winner", "note")),),
    "compare/<id:pk>/rerun/": NOTHING,
    "compare/<id:pk>/columns/<id:column_pk>/": (Reads(("seen",)),),
    "compare/<id:pk>/columns/<id:column_pk>/cancel/": NOTHING,
    "compare/<id:pk>/columns/<id:column_pk>/rerun/": NOTHING,
    "money/": NOTHING,
    "money/budgets/": (Reads(tuple(BudgetForm.base_fields)),),
    "money/budgets/<id:pk>/delete/": NOTHING,
    "money/shares/": (Reads(tuple(ShareForm.base_fields)),),
    "money/shares/<id:pk>/stop/": NOTHING,
    "money/prices/": (Reads(tuple(PriceForm.base_fields)),),
    "money/prices/<id:pk>/delete/": NOTHING,
    "vendors/": (Reads(("team",)),),
    # --- The API (bearer endpoints get hostile bodies in tests/api/test_openai_api.py) ---
    "api/openapi.json": NOTHING,
    "v1/images/generations": (Reads(("model", "prompt", "n", "size")),),
    "v1/images/edits": (Reads(("model", "prompt", "n", "size")),),
    "v1/models": NOTHING,
    "api/v1/jobs/<id:job_id>": NOTHING,
    "api/v1/images": (Reads(("q", "vendor", "model", "after")),),
    "api/v1/files/<str:token>/": NOTHING,
    "api/": NOTHING,
    "api/guide.md": NOTHING,
    "tokens/": (Reads(tuple(TokenForm.base_fields)),),
    "tokens/<id:pk>/revoke/": NOTHING,
    "links/new/": (
        Reads(tuple(ShareLinkForm.base_fields)),  # on the valid ?collection=<pk>
        Reads(("collection", "image", "comparison"), query=""),
        Reads(("gallery", *GALLERY), query="gallery=1"),
    ),
}
KWARG = re.compile(r"<[^>]+>")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def offline(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Hundreds of requests check passwords: a slow hasher's cost would buy nothing here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Key verification must not leave the machine: a closed local port refuses at once.
    settings.STUDIO_VENDOR_URLS = dict.fromkeys(("aioagi", "lemondata"), "http://127.0.0.1:9")
    with_sso_provider(settings)


def test_every_url_says_what_it_reads():
    found = {p for p in patterns() if not p.startswith(EXCLUDED_PREFIXES)}
    assert found - set(READS) == set(), "new URLs: add the parameters they read to READS"
    assert set(READS) - found == set(), "URLs listed in READS that no longer exist"


def test_ids_in_urls_are_range_checked():
    # `<int:pk>` lets 99999999999999999999 through to the database; `<id:pk>` is a 404.
    assert [p for p in patterns() if "<int:" in p and not p.startswith(EXCLUDED_PREFIXES)] == []


def hostile_requests(route_path: str, valid: str):
    """(label, path, POST data) for each hostile value of each parameter of the route."""
    route = ROUTES[route_path]
    path, _, query = valid.partition("?")
    # The valid values of the URL's kwargs, read back from the valid path.
    template = plain(route_path)
    pattern = KWARG.sub("([^/]+?)", re.escape("/" + template))
    kwargs = dict(zip(KWARG.findall(template), re.fullmatch(pattern, path).groups(), strict=True))
    for kwarg in kwargs:
        for label, value in HOSTILE.items():
            if isinstance(value, list):
                continue
            swapped = "/" + template
            for name, good in kwargs.items():
                swapped = swapped.replace(name, quote(value, safe="") if name == kwarg else good)
            yield f"{kwarg}={label}", swapped + (f"?{query}" if query else ""), dict(route.data)
    for reads in READS[route_path]:
        for name in reads.names:
            for label, value in HOSTILE.items():
                params = QueryDict(query if reads.query is None else reads.query, mutable=True)
                params.setlist(name, value if isinstance(value, list) else [value])
                data = {**dict(route.data), name: value}
                yield f"{name}={label}", f"{path}?{params.urlencode()}", data


@pytest.mark.parametrize("route_path", sorted(READS))
def test_hostile_values_are_never_a_server_error(route_path, alice):
    route = ROUTES[route_path]
    mine = objects(alice)
    valid = url_for(route_path, mine.get(route.resource) if route.resource else None)
    client = Client()
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    for label, path, data in hostile_requests(route_path, valid):
        for method in ("GET", "POST"):
            for headers in ({}, HTMX):
                name = f"{method} {route_path} {label}{' (htmx)' if headers else ''}"
                try:
                    if method == "GET":
                        r = client.get(path, **headers)
                    else:
                        r = client.post(path, data, **headers)
                except Exception as exc:
                    raise AssertionError(f"{name}: {exc!r}"[:500]) from exc
                assert r.status_code < 500 or r.status_code in route.ok, (name, r.status_code)
                if not r.wsgi_request.user.is_authenticated:  # logged out by a valid POST
                    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")


# --- The cases the attack run found, one by one -------------------------------------------------

HUGE = HOSTILE["huge"]


@pytest.mark.parametrize("headers", [{}, HTMX])
@pytest.mark.parametrize("url", [f"/?reference={HUGE}", f"/generate/form/?reference={HUGE}"])
def test_a_huge_reference_id_in_the_query_is_left_out(alice_client, url, headers):
    r = alice_client.get(url, **headers)
    assert r.status_code == 200
    assert 'id="generate-form"' in r.content.decode()
    assert f'name="reference" value="{HUGE}"' not in r.content.decode()


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_a_huge_reference_id_in_the_form_is_a_form_error(alice_client, headers):
    r = alice_client.post("/", {"prompt": "a fox", "reference": HUGE}, **headers)
    assert r.status_code == 200
    assert f"“{HUGE}” is not a valid value." in r.content.decode()


@pytest.mark.parametrize(
    "url", ["/gallery/?end=9999-12-31", "/credits/?end=9999-12-31", "/gallery/?start=0001-01-01"]
)
def test_a_day_out_of_range_is_a_filter_error(alice_client, url):
    r = alice_client.get(url)
    assert r.status_code == 200
    assert "Ensure this value is" in r.content.decode()


def test_the_export_of_a_day_out_of_range_is_empty(alice_client):
    r = alice_client.get("/credits/export.csv?end=9999-12-31")
    assert r.status_code == 200
    assert b"".join(r.streaming_content).decode().splitlines()[1:] == []


def test_a_cursor_before_year_1_is_the_first_page(alice_client, alice):
    r = alice_client.get("/gallery/?after=0001-01-01T00:00:00%2B14:00~1")
    assert r.status_code == 200


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("target", ["image", "collection"])
def test_a_huge_id_to_share_is_a_404(alice_client, target, method):
    r = getattr(alice_client, method)(f"/links/new/?{target}={HUGE}")
    assert r.status_code == 404


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_huge_image_id_to_collect_is_a_404(alice_client, method):
    r = getattr(alice_client, method)("/collections/add/", {"image": HUGE})
    assert r.status_code == 404


@pytest.mark.parametrize(
    "path", [f"/teams/{HUGE}/", f"/jobs/{HUGE}/", f"/teams/1/members/{HUGE}/owner/"]
)
def test_a_huge_id_in_the_path_is_a_404(alice_client, path):
    assert alice_client.get(path).status_code == 404


def test_a_link_saved_with_a_day_out_of_range_shows_no_images(client, alice):
    # The link form accepted 9999-12-31 before days were range-checked; such links exist.
    _link, token = sharing.create_link(
        alice, kind="gallery", filters={"end": "9999-12-31"}, audience="anyone"
    )
    make_image(alice)
    r = client.get(f"/s/{token}/")
    assert r.status_code == 200
    assert "/i/" not in r.content.decode()
