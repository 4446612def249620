"""Runs the test OpenID provider: `python -m tests.oidc_provider.serve CONFIG.json`.

The JSON names the port, the one client (id, secret, redirect URIs) and the users (username,
password, email, groups). A fresh SQLite file and a fresh RSA key every start: nothing is kept.
"""

import json
import os
import sys
import tempfile


def main(config_path: str) -> None:
    with open(config_path) as f:
        config = json.load(f)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    os.environ["OP_RSA_KEY"] = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    os.environ["OP_DB"] = os.path.join(tempfile.mkdtemp(prefix="oidc-provider-"), "op.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0, interactive=False)
    for u in config["users"]:
        user = User.objects.create_user(u["username"], u["email"], u["password"])
        for name in u.get("groups", []):
            user.groups.add(Group.objects.get_or_create(name=name)[0])
    client = config["client"]
    Application.objects.create(
        name="Image Studio (test)",
        client_id=client["id"],
        client_secret=client["secret"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(client["redirect_uris"]),
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    call_command("runserver", f"127.0.0.1:{config['port']}", use_reloader=False, use_threading=True)


if __name__ == "__main__":
    main(sys.argv[1])
