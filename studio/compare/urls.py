"""Compare's URLs, mounted at the site root by studio/urls.py."""

from django.urls import path

from studio.compare import views

urlpatterns = [
    path("compare/", views.comparisons, name="comparisons"),
    path("compare/new/", views.new, name="new_comparison"),
    path("compare/<int:pk>/", views.comparison, name="comparison"),
    path("compare/<int:pk>/verdict/", views.verdict, name="comparison_verdict"),
    path("compare/<int:pk>/rerun/", views.rerun, name="comparison_rerun"),
    path("compare/<int:pk>/columns/<int:column_pk>/", views.column, name="comparison_column"),
    path(
        "compare/<int:pk>/columns/<int:column_pk>/cancel/",
        views.cancel_column,
        name="comparison_column_cancel",
    ),
    path(
        "compare/<int:pk>/columns/<int:column_pk>/rerun/",
        views.rerun_column,
        name="comparison_column_rerun",
    ),
    path("vendors/", views.scoreboard, name="scoreboard"),
]
