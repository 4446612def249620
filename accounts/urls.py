from allauth.mfa.webauthn import views as webauthn
from django.urls import include, path

from accounts import security, sso, views

# allauth's views under /accounts/, put together here rather than through `allauth.urls`:
# passkeys are addressed by `<id:pk>` (a number past the keys' range is a 404, not a database
# error), and allauth's deprecated social/ redirects are left out, as this site never had them.
passkeys = [
    path("", webauthn.list_webauthn, name="mfa_list_webauthn"),
    path("add/", webauthn.add_webauthn, name="mfa_add_webauthn"),
    path("reauthenticate/", webauthn.reauthenticate_webauthn, name="mfa_reauthenticate_webauthn"),
    path("keys/<id:pk>/remove/", webauthn.remove_webauthn, name="mfa_remove_webauthn"),
    path("keys/<id:pk>/edit/", webauthn.edit_webauthn, name="mfa_edit_webauthn"),
    path("login/", webauthn.login_webauthn, name="mfa_login_webauthn"),
]

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("security/", security.security, name="account_security"),
    path("security/sign-out-others/", security.sign_out_others, name="sign_out_others"),
    path("", include("allauth.account.urls")),
    path("2fa/", include("allauth.mfa.base.urls")),
    path("2fa/totp/", include("allauth.mfa.totp.urls")),
    path("2fa/recovery-codes/", include("allauth.mfa.recovery_codes.urls")),
    path("2fa/webauthn/", include(passkeys)),
    path("3rdparty/", include("allauth.socialaccount.urls")),
    # Single sign-on: each OpenID Connect provider's addresses (accounts/sso.py), the only kind
    # of provider installed (allauth's build_provider_urlpatterns() would add the same, unguarded).
    *sso.urlpatterns,
]
