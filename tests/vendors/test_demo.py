from __future__ import annotations

from studio.vendors import ADAPTERS
from studio.vendors.base import Accepted, ErrorCode, Finished, GenerationRequest, Running
from studio.vendors.demo import Demo
from tests.vendors.conftest import open_png


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_it_paints_after_two_seconds_without_network_or_key() -> None:
    clock = Clock()
    demo = Demo(clock=clock)
    req = GenerationRequest(
        "text-to-image", "demo", "a red fox in snow", {"size": "768x512", "n": 3}
    )

    submitted = demo.submit(None, req)
    clock.now += 1.0
    halfway = demo.poll(None, submitted.remote_id)
    clock.now += 1.0
    done = demo.poll(None, submitted.remote_id)

    assert isinstance(submitted, Accepted) and submitted.poll_after == 1.0
    assert isinstance(halfway, Running) and halfway.progress == 50
    assert isinstance(done, Finished)
    assert [open_png(i.data).size for i in done.images] == [(768, 512)] * 3
    assert done.spend.credits_used == 0 and done.spend.images == 3
    assert len({i.data for i in done.images}) == 3


def test_the_remote_id_carries_the_job_to_any_process() -> None:
    submitted = Demo(render_after=0).submit(None, GenerationRequest("text-to-image", "demo", "fox"))
    other_worker = Demo(render_after=0)

    done = other_worker.poll(None, submitted.remote_id)

    assert isinstance(done, Finished) and open_png(done.images[0].data).size == (512, 512)
    assert len(submitted.remote_id) < 255


def test_colours_come_from_the_prompt() -> None:
    demo = Demo(render_after=0)

    def pixel(prompt: str) -> tuple:
        job = demo.submit(None, GenerationRequest("text-to-image", "demo", prompt))
        return open_png(demo.poll(None, job.remote_id).images[0].data).getpixel((500, 500))

    assert pixel("fox") == pixel("fox") != pixel("owl")


def test_failures_and_bad_ids() -> None:
    demo = Demo(render_after=0)
    job = demo.submit(None, GenerationRequest("text-to-image", "demo", "a fox [fail]"))

    assert demo.poll(None, job.remote_id).error.code == ErrorCode.CONTENT_POLICY
    assert demo.poll(None, "demo-garbage").error.code == ErrorCode.NOT_FOUND
    assert demo.verify(None).status == "valid"
    assert ADAPTERS["demo"].label == "Demo (offline, free)"
