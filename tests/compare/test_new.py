"""The compare form (/compare/new/): each target's plan before submit, per-target validation,
and one normal job per target."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django_q.models import OrmQ

from studio.compare import services
from studio.compare.models import Comparison
from studio.models import Generation
from tests.compare.conftest import target
from tests.web.conftest import png


def form(*targets, prompt="a red kite over the sea", **extra) -> dict:
    data = {"prompt": prompt, "aspect_ratio": "16:9", "n": "1", "quality": ""}
    for i, value in enumerate(targets):
        data[f"target_{i}"] = value
    data.update(extra)
    return data


def test_it_picks_the_nearest_size_or_aspect_each_target_offers():
    demo = services.engine.capabilities("demo").model("demo")
    girl = services.engine.capabilities("girlgenerator").model("default")
    chatfire = services.engine.capabilities("chatfire").model("seedream-3.0")
    dalle = services.engine.capabilities("lemondata").model("dall-e-3")
    assert services.nearest_size(demo, "16:9") == "768x512"
    assert services.nearest_size(demo, "1:1") == "512x512"
    assert services.nearest_size(demo, "9:16") == "512x768"
    assert services.nearest_size(girl, "16:9") == "16:9"
    assert services.nearest_size(chatfire, "3:4") == "1024x1792"
    assert services.nearest_size(chatfire, "4:3") == "1792x1024"
    # 1:1 is offered twice; the model's default wins the tie.
    assert services.nearest_size(chatfire, "1:1") == "1024x1024"
    assert services.nearest_size(dalle, "3:2") == "1792x1024"


def test_each_target_shows_what_it_will_get_before_submit(alice_client, alice, keys):
    data = form(
        target(alice, None, "demo"),
        target(alice, keys["girlgenerator"], "default"),
        target(alice, keys["lemondata"], "dall-e-3"),
        n="3",
        quality="high",
        preview="1",
    )
    r = alice_client.post("/compare/new/", data)
    assert r.status_code == 200
    page = r.content.decode()
    assert "768x512" in page and "the nearest to 16:9" in page
    assert "1792x1024" in page
    assert "1 image: it makes one per request" in page  # girlgenerator and dall-e-3
    assert "3 images" in page  # the demo takes the shared n
    assert "quality hd" in page  # "high" is dall-e-3's "hd"
    assert not Generation.objects.exists() and not Comparison.objects.exists()


def test_one_click_makes_one_normal_job_per_target(alice_client, alice, keys):
    data = form(
        target(alice, None, "demo"),
        target(alice, keys["aioagi"], "gpt-image-2"),
        target(alice, keys["lemondata"], "dall-e-3"),
        target(alice, keys["chatfire"], "seedream-3.0"),
        n="2",
        quality="medium",
        n_1="1",  # aioagi overrides the shared number
        quality_1="high",  # and the shared quality
    )
    r = alice_client.post("/compare/new/", data)
    comparison = Comparison.objects.get()
    assert r.status_code == 302 and r.url == f"/compare/{comparison.pk}/"
    columns = list(comparison.columns.order_by("position").select_related("generation"))
    assert [c.vendor for c in columns] == ["demo", "aioagi", "lemondata", "chatfire"]
    params = {c.vendor: c.generation.params for c in columns}
    assert params == {
        "demo": {"size": "768x512", "n": 2},
        "aioagi": {"size": "1536x1024", "n": 1, "quality": "high"},
        "lemondata": {"size": "1792x1024", "quality": "standard"},
        "chatfire": {"size": "1792x1024", "n": 2},
    }
    jobs = Generation.objects.filter(owner=alice)
    assert jobs.count() == 4 and {j.prompt for j in jobs} == {"a red kite over the sea"}
    assert columns[1].generation.credential == keys["aioagi"]
    # Each job is queued exactly once: one submit task, hence one paid POST.
    assert OrmQ.objects.count() == 4


def test_one_invalid_target_blocks_the_whole_comparison(alice_client, alice, keys):
    # GirlGeneratorAI takes 2000 characters; AIOAGI publishes no limit.
    data = form(
        target(alice, keys["aioagi"], "gpt-image-2"),
        target(alice, keys["girlgenerator"], "default"),
        prompt="x" * 2001,
    )
    r = alice_client.post("/compare/new/", data)
    assert r.status_code == 200
    assert "B: The prompt is limited to 2000 characters." in r.content.decode()
    assert not Generation.objects.exists() and not Comparison.objects.exists()
    assert OrmQ.objects.count() == 0


def test_it_takes_two_to_eight_different_targets(alice_client, alice):
    demo = target(alice, None, "demo")
    r = alice_client.post("/compare/new/", form(demo))
    assert "Choose between 2 and 8 targets." in r.content.decode()
    r = alice_client.post("/compare/new/", form(demo, demo))
    assert "Choose each key and model once." in r.content.decode()
    assert not Generation.objects.exists()


def test_reference_images_go_only_to_targets_that_take_them(alice_client, alice, keys):
    data = form(target(alice, None, "demo"), target(alice, keys["aioagi"], "gpt-image-2"))
    data["upload"] = SimpleUploadedFile("ref.png", png(), content_type="image/png")
    data["preview"] = "1"
    r = alice_client.post("/compare/new/", data)
    assert "Takes no reference images: it gets the prompt alone" in r.content.decode()
    reference = r.context["form"].chosen_references[0]
    # The form carries the saved reference; submit again without the file.
    data.pop("upload")
    data.pop("preview")
    data["reference"] = str(reference.pk)
    r = alice_client.post("/compare/new/", data)
    assert r.status_code == 302
    demo, aioagi = (
        Comparison.objects.get().columns.order_by("position").select_related("generation")
    )
    assert demo.generation.scene == "text-to-image"
    assert list(demo.generation.references.all()) == []
    assert aioagi.generation.scene == "image-to-image"
    assert list(aioagi.generation.references.all()) == [reference]


def test_another_users_key_is_not_a_target(alice_client, alice, bob):
    from accounts.vault import add_credential

    theirs = add_credential(bob, "aioagi", "bob's", "sk-aioagi-bob-0123456789")
    data = form(target(alice, None, "demo"), f"{theirs.pk}:gpt-image-2")
    r = alice_client.post("/compare/new/", data)
    assert r.status_code == 200 and not Generation.objects.exists()


def test_the_compare_form_is_a_page_of_its_own(alice_client):
    r = alice_client.get("/compare/new/")
    assert r.status_code == 200
    assert 'aria-current="page">Compare vendors' in r.content.decode()
    r = alice_client.get("/")
    assert 'href="/compare/new/"' in r.content.decode()


def test_the_compare_pages_speak_chinese(alice_client, alice):
    for path, words in (
        ("/compare/new/", "对比服务商"),
        ("/compare/", "新建对比"),
        ("/vendors/", "排行榜"),
    ):
        r = alice_client.get(path, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
        assert r.status_code == 200 and words in r.content.decode(), path
