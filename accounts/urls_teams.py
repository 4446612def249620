from django.urls import path

from accounts import teams

urlpatterns = [
    path("", teams.team_list, name="teams"),
    path("<int:pk>/", teams.team_detail, name="team"),
    path("<int:pk>/invite/", teams.invite_member, name="team_invite"),
    path("<int:pk>/invite-link/", teams.create_invite_link, name="team_invite_link"),
    path(
        "<int:pk>/invites/<int:invite_pk>/cancel/",
        teams.cancel_invite,
        name="team_cancel_invite",
    ),
    path(
        "<int:pk>/members/<int:member_pk>/remove/", teams.remove_member, name="team_remove_member"
    ),
    path("<int:pk>/members/<int:member_pk>/owner/", teams.make_owner, name="team_make_owner"),
    path("<int:pk>/leave/", teams.leave_team, name="team_leave"),
    path(
        "invites/<int:pk>/accept/",
        teams.answer_invite,
        {"answer": "accept"},
        name="team_invite_accept",
    ),
    path(
        "invites/<int:pk>/decline/",
        teams.answer_invite,
        {"answer": "decline"},
        name="team_invite_decline",
    ),
    path("join/<str:token>/", teams.join, name="team_join"),
]
