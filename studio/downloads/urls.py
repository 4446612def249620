"""Downloads' URLs, mounted at the site root by studio/urls.py."""

from django.urls import path

from studio.downloads import views

urlpatterns = [
    path("downloads/settings/", views.download_settings, name="download_settings"),
]
