"""Money's URLs, mounted at the site root by studio/urls.py."""

from django.urls import path

from studio.money import views

urlpatterns = [
    path("money/", views.money, name="money"),
    path("money/budgets/", views.add_budget, name="money_add_budget"),
    path("money/budgets/<id:pk>/delete/", views.delete_budget, name="money_delete_budget"),
    path("money/shares/", views.share, name="money_share"),
    path("money/shares/<id:pk>/stop/", views.stop_sharing, name="money_stop_sharing"),
    path("money/prices/", views.add_price, name="money_add_price"),
    path("money/prices/<id:pk>/delete/", views.delete_price, name="money_delete_price"),
]
