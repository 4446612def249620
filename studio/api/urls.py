"""The API's URLs, mounted at the site root by studio/urls.py: `/v1/…` (OpenAI's paths, so that
OpenAI clients take `<studio>/v1` as their base URL), `/api/v1/…`, `/api/openapi.json`, and
the pages for tokens and the API's documentation."""

from django.urls import path

from studio.api import views
from studio.api.api import api

urlpatterns = [
    path("", api.urls),
    path("api/", views.docs, name="api_docs"),
    path("api/guide.md", views.guide, name="api_guide"),
    path("api/v1/files/<str:token>/", views.file, name="api_file"),
    path("tokens/", views.tokens, name="api_tokens"),
    path("tokens/<id:pk>/revoke/", views.revoke, name="api_token_revoke"),
]
