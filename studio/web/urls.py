from django.urls import path

from studio.web import credits, gallery, generate, jobs, media

urlpatterns = [
    path("", generate.generate, name="generate"),
    path("generate/form/", generate.generate_form, name="generate_form"),
    path("jobs/<int:pk>/", jobs.job, name="job"),
    path("jobs/<int:pk>/cancel/", jobs.cancel, name="job_cancel"),
    path("jobs/<int:pk>/retry/", jobs.retry, name="job_retry"),
    path("jobs/<int:pk>/dismiss/", jobs.dismiss, name="job_dismiss"),
    path("gallery/", gallery.gallery, name="gallery"),
    path("gallery/<int:pk>/", gallery.image, name="image"),
    path("gallery/<int:pk>/favourite/", gallery.favourite, name="image_favourite"),
    path("gallery/<int:pk>/reference/", gallery.use_as_reference, name="image_reference"),
    path("gallery/<int:pk>/delete/", gallery.delete, name="image_delete"),
    path("gallery/<int:pk>/restore/", gallery.restore, name="image_restore"),
    path("images/<int:pk>/", media.image_file, name="image_file"),
    path("images/<int:pk>/thumbnail/", media.image_thumbnail, name="image_thumbnail"),
    path("images/<int:pk>/download/", media.image_download, name="image_download"),
    path("references/<int:pk>/", media.reference_file, name="reference_file"),
    path("credits/", credits.credits, name="credits"),
    path("credits/export.csv", credits.export, name="credits_export"),
]
