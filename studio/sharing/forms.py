from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from studio.sharing.models import Collection, ShareLink
from studio.web.params import ChoiceOfField

EXPIRY_CHOICES = [
    ("1", _("in 1 day")),
    ("7", _("in 7 days")),
    ("30", _("in 30 days")),
    ("never", _("never (until I revoke it)")),
]


class CollectionForm(forms.ModelForm):
    class Meta:
        model = Collection
        fields = ("name",)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the collection a name."))
        return name


class AddToCollectionForm(forms.Form):
    """Adds images to one of the owner's collections, or to a new one named here."""

    collection = ChoiceOfField(
        label=_("Collection"),
        queryset=Collection.objects.none(),
        required=False,
        empty_label=_("New collection…"),
    )
    name = forms.CharField(label=_("New collection name"), max_length=100, required=False)

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collection"].queryset = Collection.objects.filter(owner=owner)

    def clean(self):
        cleaned = super().clean()
        name = (cleaned.get("name") or "").strip()
        cleaned["name"] = name
        if not cleaned.get("collection") and not name and "collection" not in self.errors:
            self.add_error("name", _("Choose a collection or name a new one."))
        return cleaned


class ShareLinkForm(forms.Form):
    audience = forms.ChoiceField(
        label=_("Who can open it"),
        choices=ShareLink.Audience.choices,
        widget=forms.RadioSelect,
    )
    team = ChoiceOfField(
        label=_("Team"),
        queryset=Team.objects.none(),
        required=False,
        help_text=_("Members must be signed in, and still in the team, to open the link."),
    )
    expires = forms.ChoiceField(label=_("The link expires"), choices=EXPIRY_CHOICES, initial="7")
    include_later = forms.BooleanField(
        label=_("Also show matching images I make later"),
        required=False,
        help_text=_("Otherwise the link shows only the images that match now."),
    )

    def __init__(self, *args, owner, gallery: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not gallery:
            del self.fields["include_later"]
        teams = list(Team.objects.filter(memberships__user=owner))
        self.fields["team"].queryset = Team.objects.filter(memberships__user=owner)
        # Safe by default: a team link when there is a team to share with, and the team
        # chosen already when there is only one.
        self.fields["audience"].initial = (
            ShareLink.Audience.TEAM if teams else ShareLink.Audience.ANYONE
        )
        if len(teams) == 1:
            self.fields["team"].initial = teams[0].pk

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("audience") == ShareLink.Audience.TEAM and not cleaned.get("team"):
            if not self.fields["team"].queryset.exists():  # the user is in no team
                message = _("You are in no team yet: create one on the Teams page first.")
            else:
                message = _("Choose the team to share with.")
            self.add_error("team", message)
        if cleaned.get("audience") == ShareLink.Audience.ANYONE:
            cleaned["team"] = None
        return cleaned

    def expires_at(self) -> datetime | None:
        days = self.cleaned_data["expires"]
        return None if days == "never" else timezone.now() + timedelta(days=int(days))
