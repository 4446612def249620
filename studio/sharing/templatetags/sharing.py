"""`{% add_to_collection image %}`: the "add to collection" form, for the image page."""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string

from studio.sharing.forms import AddToCollectionForm

register = template.Library()


@register.simple_tag(takes_context=True)
def add_to_collection(context, image) -> str:
    request = context["request"]
    ctx = {
        "form": AddToCollectionForm(owner=request.user),
        "image_ids": [image.pk],
        "next": request.get_full_path(),
    }
    return render_to_string("studio/sharing/add_to_collection.html#add-form", ctx, request=request)
