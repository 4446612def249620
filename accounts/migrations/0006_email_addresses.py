"""Accounts from before django-allauth get their address as allauth's EmailAddress row,
unverified: the studio asks them to verify it, and sends the link from /accounts/email/."""

from django.db import migrations


def add_addresses(apps, schema_editor):
    User = apps.get_model("auth", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    known = set(EmailAddress.objects.values_list("email", flat=True))
    rows = []
    for user in User.objects.exclude(email="").order_by("pk").iterator():
        email = user.email.lower()
        if email not in known:
            known.add(email)
            rows.append(EmailAddress(user=user, email=email, primary=True, verified=False))
    EmailAddress.objects.bulk_create(rows, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_credential_event_share_budget_kinds"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(add_addresses, migrations.RunPython.noop)]
