"""Money's forms: a budget, a key shared with a team, a user's own price for a key."""

from __future__ import annotations

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from accounts.models import Credential, Team
from studio.money import services
from studio.money.models import CURRENCY, Budget, Price
from studio.web.params import ChoiceOfField


def at_least(field: forms.Field, low: int) -> None:
    # A ModelForm's number fields come without the bounds the model's check constraints keep.
    field.validators.append(MinValueValidator(low))
    field.widget.attrs["min"] = str(low)


def clean_currency(value: str) -> str:
    value = (value or "").strip().upper()
    if value and not CURRENCY.match(value):
        raise forms.ValidationError(_("Three letters, as in ISO 4217: CNY, USD, EUR."))
    return value


class BudgetForm(forms.ModelForm):
    class Meta:
        model = Budget
        fields = [
            "scope",
            "credential",
            "measure",
            "limit",
            "currency",
            "period",
            "period_days",
            "starts_on",
        ]
        widgets = {"starts_on": forms.DateInput(attrs={"type": "date"})}
        labels = {"credential": _("Key")}
        field_classes = {"credential": ChoiceOfField}  # its choices in one query

    def __init__(self, owner, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["credential"].queryset = Credential.objects.usable().filter(owner=owner)
        self.fields["credential"].empty_label = _("All my keys (own use only)")
        self.fields["credential"].required = False
        at_least(self.fields["limit"], 0)
        at_least(self.fields["period_days"], 1)
        self.fields["period_days"].validators.append(MaxValueValidator(366))
        self.fields["currency"].help_text = _("For a limit in money: CNY, USD…")

    def clean_currency(self) -> str:
        return clean_currency(self.cleaned_data.get("currency"))

    def clean(self) -> dict:
        data = super().clean()
        if data.get("scope") in (Budget.Scope.MEMBER, Budget.Scope.KEY) and not data.get(
            "credential"
        ):
            self.add_error("credential", _("Choose the team key this limit is for."))
        if data.get("measure") == Budget.Measure.MONEY and not data.get("currency"):
            self.add_error("currency", _("A limit in money needs its currency."))
        if data.get("measure") != Budget.Measure.MONEY:
            data["currency"] = ""
        problem = services.unit_problem(data.get("measure"), data.get("credential"))
        if problem:
            self.add_error("measure", problem)
        if data.get("period") == Budget.Period.DAYS and not data.get("period_days"):
            self.add_error("period_days", _("How many days is one period?"))
        return data


class ShareForm(forms.Form):
    credential = ChoiceOfField(label=_("Key"), queryset=Credential.objects.none())
    team = ChoiceOfField(label=_("Team"), queryset=Team.objects.none())

    def __init__(self, owner, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["credential"].queryset = Credential.objects.usable().filter(owner=owner)
        self.fields["team"].queryset = services.shareable_teams(owner)


class PriceForm(forms.ModelForm):
    class Meta:
        model = Price
        fields = [
            "credential",
            "model",
            "size",
            "quality",
            "per",
            "amount",
            "currency",
            "valid_from",
            "source",
        ]
        widgets = {"valid_from": forms.DateInput(attrs={"type": "date"})}
        labels = {"credential": _("Key")}
        field_classes = {"credential": ChoiceOfField}  # its choices in one query

    def __init__(self, owner, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["credential"].queryset = Credential.objects.usable().filter(owner=owner)
        self.fields["credential"].required = True
        self.fields["credential"].empty_label = None
        self.fields["amount"].widget.attrs["min"] = "0"  # the check itself: Price.clean()
        self.fields["model"].help_text = _("Blank for every model.")

    def clean(self) -> dict:
        data = super().clean()
        # Price.clean() checks the values (currency, amount, vendor), here and in the admin;
        # a user's own price is for their key's vendor.
        if data.get("credential"):
            self.instance.vendor = data["credential"].vendor
        return data
