from django.urls import path

from accounts import keys

urlpatterns = [
    path("", keys.keys, name="keys"),
    path("add/", keys.add_key, name="add_key"),
    path("<id:pk>/replace/", keys.replace_key, name="replace_key"),
    path("<id:pk>/verify/", keys.verify_key, name="verify_key"),
    path("<id:pk>/default/", keys.make_default, name="make_default_key"),
    path("<id:pk>/revoke/", keys.revoke_key, name="revoke_key"),
    path("<id:pk>/delete/", keys.delete_key, name="delete_key"),
]
