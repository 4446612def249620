"""Sharing's URLs, mounted at the site root by studio/urls.py."""

from django.urls import path

from studio.sharing import shared, views

urlpatterns = [
    # Collections
    path("collections/", views.collections, name="collections"),
    path("collections/add/", views.add_to_collection, name="add_to_collection"),
    path("collections/<id:pk>/", views.collection_detail, name="collection"),
    path("collections/<id:pk>/download/", views.download_collection, name="download_collection"),
    path("collections/<id:pk>/delete/", views.delete_collection, name="delete_collection"),
    path(
        "collections/<id:pk>/items/<id:item_pk>/move/",
        views.move_item,
        name="move_collection_item",
    ),
    path(
        "collections/<id:pk>/items/<id:item_pk>/remove/",
        views.remove_item,
        name="remove_collection_item",
    ),
    # The owner's links
    path("links/", views.links, name="share_links"),
    path("links/new/", views.new_link, name="new_share_link"),
    path("links/<id:pk>/revoke/", views.revoke_link, name="revoke_share_link"),
    # What teammates shared
    path("shared/", views.shared_with_me, name="shared_with_me"),
    path("shared/<id:pk>/", shared.page_for_member, name="shared_page"),
    path("shared/<id:pk>/download/", shared.zip_for_member, name="shared_zip"),
    path("shared/<id:pk>/i/<id:image_id>/", shared.image_for_member, name="shared_image"),
    path(
        "shared/<id:pk>/i/<id:image_id>/thumb/",
        shared.image_for_member,
        {"which": "thumbnail"},
        name="shared_thumbnail",
    ),
    path(
        "shared/<id:pk>/i/<id:image_id>/download/",
        shared.image_for_member,
        {"download": True},
        name="shared_download",
    ),
    # Capability URLs
    path("s/<str:token>/", shared.page_by_token, name="link_page"),
    path("s/<str:token>/download/", shared.zip_by_token, name="link_zip"),
    path("s/<str:token>/i/<id:image_id>/", shared.image_by_token, name="link_image"),
    path(
        "s/<str:token>/i/<id:image_id>/thumb/",
        shared.image_by_token,
        {"which": "thumbnail"},
        name="link_thumbnail",
    ),
    path(
        "s/<str:token>/i/<id:image_id>/download/",
        shared.image_by_token,
        {"download": True},
        name="link_download",
    ),
]
