"""Shared pages: what a share link shows, read-only, to whoever the link is for.

Two doors lead to the same pages: `/s/<token>/` (the capability URL itself) and
`/shared/<pk>/` (for signed-in team members who found the link on "Shared with me": the studio
keeps no token it could link them to). Every response through either door, 404s included,
carries the headers in SHARED_HEADERS, and every image is served by a view that checks the link
again, so a revoked link stops serving its images on the next request.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from studio.compare import services as compare
from studio.downloads import services as downloads
from studio.engine.images import THUMBNAIL_SIZE
from studio.sharing import services
from studio.sharing.models import ShareLink
from studio.web.media import image_response

PAGE_SIZE = 48
# no-store for every link, public ones too: a shared page must not outlive its revocation in
# any cache, and the pages are cheap to serve again. See docs/decisions.md.
SHARED_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "private, no-store",
}


def not_found() -> HttpResponse:
    # Rendered without the request: no CSRF token, no user, nothing that could tell one bad
    # token from another.
    return HttpResponse(render_to_string("studio/sharing/not_found.html"), status=404)


def shared_response(view):
    """Sends SHARED_HEADERS on every response of `view`, and answers any 404 with one body."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            response = not_found()
        for name, value in SHARED_HEADERS.items():
            response[name] = value
        return response

    return wrapper


def _link_by_token(request: HttpRequest, token: str) -> ShareLink:
    link = services.find_link(token)
    if link is None or not services.team_may_view(link, request.user):
        raise Http404
    return link


def _link_for_member(request: HttpRequest, pk: int) -> ShareLink:
    link = services.link_for_viewer(request.user, pk)
    if link is None:
        raise Http404
    return link


@shared_response
@require_GET
def page_by_token(request: HttpRequest, token: str) -> HttpResponse:
    link = services.find_link(token)
    if link is None:
        raise Http404
    if not services.team_may_view(link, request.user):
        if not request.user.is_authenticated:
            # A team link: its members sign in first, then come back here.
            return redirect_to_login(request.get_full_path())
        raise Http404
    return _page(request, link, f"/s/{token}/")


@shared_response
@require_GET
def image_by_token(
    request: HttpRequest, token: str, image_id: int, which: str = "file", download: bool = False
) -> HttpResponse:
    return _image(_link_by_token(request, token), image_id, which, download)


@shared_response
@require_GET
@login_required
def page_for_member(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, _link_for_member(request, pk), f"/shared/{pk}/")


@shared_response
@require_GET
@login_required
def image_for_member(
    request: HttpRequest, pk: int, image_id: int, which: str = "file", download: bool = False
) -> HttpResponse:
    return _image(_link_for_member(request, pk), image_id, which, download)


@shared_response
@require_GET
def zip_by_token(request: HttpRequest, token: str) -> HttpResponse:
    return _zip(_link_by_token(request, token))


@shared_response
@require_GET
@login_required
def zip_for_member(request: HttpRequest, pk: int) -> HttpResponse:
    return _zip(_link_for_member(request, pk))


def _zip(link: ShareLink) -> HttpResponse:
    """The link's images as a ZIP. Files stay bare and the manifest names only what the shared
    page shows (prompt, date), never the owner's vendor, model or settings."""
    return downloads.zip_response(
        services.link_images(link).iterator(),
        "shared-images.zip",
        metadata=False,
        fields=downloads.SHARED_MANIFEST_FIELDS,
    )


def _page(request: HttpRequest, link: ShareLink, base: str) -> HttpResponse:
    if link.kind == ShareLink.Kind.COMPARISON:
        return _comparison_page(request, link, base)
    page = Paginator(services.link_images(link), PAGE_SIZE).get_page(request.GET.get("page"))
    if request.user.pk != link.owner_id:
        services.record_view(link)
    ctx = {"link": link, "title": services.link_title(link), "page": page, "base": base}
    ctx["unfurl"] = unfurl(request, link, base)
    return render(request, "studio/sharing/shared.html", ctx)


def unfurl(request: HttpRequest, link: ShareLink, base: str) -> dict | None:
    """What a chat app's preview shows of a link for anyone: its title and first thumbnail,
    nothing the page does not show. A team link, or the members' door, unfurls nothing."""
    if link.audience != ShareLink.Audience.ANYONE or not base.startswith("/s/"):
        return None
    tags = {"title": services.link_title(link)}
    first = services.link_images(link).first()
    if first is not None:
        # The thumbnail's size, as studio.engine.images.thumbnail() made it.
        scale = min(1.0, THUMBNAIL_SIZE[0] / first.width, THUMBNAIL_SIZE[1] / first.height)
        tags["image"] = request.build_absolute_uri(f"{base}i/{first.pk}/thumb/")
        tags["width"] = max(1, round(first.width * scale))
        tags["height"] = max(1, round(first.height * scale))
    return tags


def _image(link: ShareLink, image_id: int, which: str, download: bool) -> HttpResponse:
    image = services.link_images(link).filter(pk=image_id).first()
    if image is None:
        raise Http404
    # The owner's own file response; shared_response then replaces its Cache-Control.
    return image_response(image, which, download=download)


def _comparison_page(request: HttpRequest, link: ShareLink, base: str) -> HttpResponse:
    """A comparison, read-only: its columns and verdict, never its keys or spend."""
    if request.user.pk != link.owner_id:
        services.record_view(link)
    ctx = {
        "link": link,
        "title": services.link_title(link),
        "base": base,
        "unfurl": unfurl(request, link, base),
        **compare.shared_view(link.comparison),
    }
    return render(request, "studio/compare/shared_comparison.html", ctx)
