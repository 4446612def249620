"""The pages of the API: personal access tokens (/tokens/) and the API's documentation (/api/).

Another user's token is a 404, as everywhere in the studio.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from studio.api import services
from studio.api.forms import TokenForm
from studio.api.models import ApiToken, ApiTokenEvent
from studio.settings import BASE_DIR
from studio.web.media import image_response

GUIDE = BASE_DIR / "docs" / "api.md"


@never_cache
@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token, secret = services.create_token(
            request.user,
            name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
            expires_at=form.expires_at(),
        )
        # The secret is in this response only: it is not stored, so it cannot be shown again.
        ctx = {"token": token, "secret": secret, "base_url": base_url(request)}
        return render(request, "studio/api/token_created.html", ctx)
    ctx = {
        "form": form,
        "tokens": ApiToken.objects.filter(owner=request.user),
        "events": ApiTokenEvent.objects.filter(owner=request.user)[:50],
        "base_url": base_url(request),
    }
    return render(request, "studio/api/tokens.html", ctx, status=400 if form.errors else 200)


@require_POST
@login_required
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, owner=request.user)
    if services.revoke_token(token):
        messages.success(request, _("Revoked the token %(name)s.") % {"name": token.name})
    return redirect("api_tokens")


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/v1")


@login_required
def docs(request: HttpRequest) -> HttpResponse:
    return render(request, "studio/api/docs.html", {"base_url": base_url(request)})


@require_GET
@login_required
def guide(request: HttpRequest) -> HttpResponse:
    """docs/api.md as it is in the code base, so the guide and the studio never disagree; as
    plain text, which browsers show (Markdown they would download)."""
    return HttpResponse(GUIDE.read_bytes(), content_type="text/plain; charset=utf-8")


@require_GET
def file(request: HttpRequest, token: str) -> HttpResponse:
    """An image behind an expiring signed URL from an API reply: the signature is the
    permission (any HTTP client fetches it), checked again at each request."""
    image = services.image_for_file_token(token)
    if image is None:
        raise Http404
    response = image_response(image)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
