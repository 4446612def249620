"""Compare's URLs, mounted at the site root by studio/urls.py."""

from django.urls import path

from studio.compare import views

urlpatterns = [
    path("compare/", views.comparisons, name="comparisons"),
    path("compare/new/", views.new, name="new_comparison"),
    path("compare/<id:pk>/", views.comparison, name="comparison"),
    path("compare/<id:pk>/verdict/", views.verdict, name="comparison_verdict"),
    path("compare/<id:pk>/rerun/", views.rerun, name="comparison_rerun"),
    path("compare/<id:pk>/columns/<id:column_pk>/", views.column, name="comparison_column"),
    path(
        "compare/<id:pk>/columns/<id:column_pk>/cancel/",
        views.cancel_column,
        name="comparison_column_cancel",
    ),
    path(
        "compare/<id:pk>/columns/<id:column_pk>/rerun/",
        views.rerun_column,
        name="comparison_column_rerun",
    ),
    path("vendors/", views.scoreboard, name="scoreboard"),
]
