"""One ownership helper per resource: another user's object is a 404, never a 403."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from studio.models import Generation, Image, ReferenceImage


def get_generation_for_user(request: HttpRequest, pk: int) -> Generation:
    return get_object_or_404(Generation, pk=pk, owner=request.user)


def get_image_for_user(request: HttpRequest, pk: int, *, deleted: bool = False) -> Image:
    """A visible image; `deleted=True` finds one in its undo window instead."""
    images = Image.objects.select_related("generation", "generation__credential")
    return get_object_or_404(images, pk=pk, owner=request.user, deleted_at__isnull=not deleted)


def get_reference_for_user(request: HttpRequest, pk: int) -> ReferenceImage:
    return get_object_or_404(ReferenceImage, pk=pk, owner=request.user)
