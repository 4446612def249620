from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path, register_converter

from studio import health
from studio.engine import references
from studio.web.params import IdConverter

# `<id:pk>` in every URLconf below: a number past the primary keys' range is a 404, not a 500.
register_converter(IdConverter, "id")
# The admin signs in through allauth's sign-in (and so its two-step sign-in), not its own form.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", include("studio.web.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("keys/", include("accounts.urls_keys")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("r/<str:token>/", references.reference_image, name="reference_image"),
    # --- Teams and sharing (issue 7) ---
    path("teams/", include("accounts.urls_teams")),
    path("", include("studio.sharing.urls")),
    # --- end of teams and sharing ---
    path("", include("studio.compare.urls")),
    path("", include("studio.api.urls")),
    path("", include("studio.downloads.urls")),
    path("", include("studio.money.urls")),
]
