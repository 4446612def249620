from django.urls import path

from accounts import teams

urlpatterns = [
    path("", teams.team_list, name="teams"),
    path("<id:pk>/", teams.team_detail, name="team"),
    path("<id:pk>/invite/", teams.invite_member, name="team_invite"),
    path("<id:pk>/invite-link/", teams.create_invite_link, name="team_invite_link"),
    path(
        "<id:pk>/invites/<id:invite_pk>/cancel/",
        teams.cancel_invite,
        name="team_cancel_invite",
    ),
    path("<id:pk>/members/<id:member_pk>/remove/", teams.remove_member, name="team_remove_member"),
    path("<id:pk>/members/<id:member_pk>/owner/", teams.make_owner, name="team_make_owner"),
    path("<id:pk>/leave/", teams.leave_team, name="team_leave"),
    path("<id:pk>/sign-in-rule/", teams.set_rule, name="team_rule"),
    path(
        "invites/<id:pk>/accept/",
        teams.answer_invite,
        {"answer": "accept"},
        name="team_invite_accept",
    ),
    path(
        "invites/<id:pk>/decline/",
        teams.answer_invite,
        {"answer": "decline"},
        name="team_invite_decline",
    ),
    path("join/<str:token>/", teams.join, name="team_join"),
]
