"""django-q2's record of finished tasks: every success is saved, and a schedule keeps the newest
(studio.engine.tasks.prune_task_results) instead of django-q2 pruning on each task's save."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_q.models import Failure, Schedule, Success, Task

from studio.engine.tasks import prune_task_results


def finished(name: str, minutes_ago: int, success: bool = True) -> Task:
    stopped = timezone.now() - timedelta(minutes=minutes_ago)
    return Task.objects.create(
        id=name.replace(" ", "")[:32],
        name=name,
        func="studio.engine.tasks.submit_generation",
        started=stopped - timedelta(seconds=1),
        stopped=stopped,
        success=success,
    )


def test_the_newest_successes_are_kept_and_every_failure(db):
    for n in range(5):
        finished(f"submit {n}", minutes_ago=n)
    finished("failed submit", minutes_ago=60, success=False)

    assert prune_task_results(kept=3) == 2

    assert sorted(Success.objects.values_list("name", flat=True)) == [
        "submit 0",
        "submit 1",
        "submit 2",
    ]
    assert list(Failure.objects.values_list("name", flat=True)) == ["failed submit"]
    assert prune_task_results(kept=3) == 0  # nothing more to do


def test_fewer_than_kept_deletes_nothing(db):
    finished("submit 0", minutes_ago=0)
    assert prune_task_results(kept=3) == 0
    assert Success.objects.count() == 1


def test_a_schedule_prunes_them_every_ten_minutes(db):
    schedule = Schedule.objects.get(func="studio.engine.tasks.prune_task_results")
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 10)
