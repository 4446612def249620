from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.forms import ProfileForm
from accounts.verification import VERIFIED_KEY


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        if "email" in form.changed_data:
            # A new address starts unverified, and replaces the old one (and its verification).
            EmailAddress.objects.filter(user=request.user).delete()
            request.session.pop(VERIFIED_KEY, None)
            if form.cleaned_data["email"]:
                address = EmailAddress.objects.create(
                    user=request.user, email=form.cleaned_data["email"], primary=True
                )
                address.send_confirmation(request)
        messages.success(request, _("Your profile was saved."))
        return redirect("profile")
    return render(request, "accounts/profile.html", {"form": form})
