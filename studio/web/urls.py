from django.urls import path

from studio.web import credits, gallery, generate, jobs, media

urlpatterns = [
    path("", generate.generate, name="generate"),
    path("generate/form/", generate.generate_form, name="generate_form"),
    path("jobs/", jobs.job_list, name="jobs"),
    path("jobs/<id:pk>/", jobs.job, name="job"),
    path("jobs/<id:pk>/cancel/", jobs.cancel, name="job_cancel"),
    path("jobs/<id:pk>/retry/", jobs.retry, name="job_retry"),
    path("jobs/<id:pk>/dismiss/", jobs.dismiss, name="job_dismiss"),
    path("gallery/", gallery.gallery, name="gallery"),
    path("gallery/bulk/", gallery.bulk, name="gallery_bulk"),
    path("gallery/restore/", gallery.restore_many, name="gallery_restore_many"),
    path("gallery/<id:pk>/", gallery.image, name="image"),
    path("gallery/<id:pk>/favourite/", gallery.favourite, name="image_favourite"),
    path("gallery/<id:pk>/reference/", gallery.use_as_reference, name="image_reference"),
    path("gallery/<id:pk>/delete/", gallery.delete, name="image_delete"),
    path("gallery/<id:pk>/restore/", gallery.restore, name="image_restore"),
    path("images/<id:pk>/", media.image_file, name="image_file"),
    path("images/<id:pk>/thumbnail/", media.image_thumbnail, name="image_thumbnail"),
    path("images/<id:pk>/download/", media.image_download, name="image_download"),
    path("references/<id:pk>/", media.reference_file, name="reference_file"),
    path("credits/", credits.credits, name="credits"),
    path("credits/export.csv", credits.export, name="credits_export"),
]
