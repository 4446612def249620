"""The generate page: a form shaped by the chosen key, validated by the engine."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.vault import add_credential
from studio.models import Generation, ReferenceImage
from tests.web.conftest import HTMX, make_job, png


def key(owner, vendor: str, label: str = "main"):
    return add_credential(owner, vendor, label, f"sk-{vendor}-0123456789abcdef")


def names(response) -> set[str]:
    return {str(name) for name in response.context["form"].fields}


def post(client, headers=None, **fields):
    data = {"key": "demo", "model": "demo", "scene": "text-to-image", "prompt": "a red fox"}
    return client.post("/", {**data, **fields}, **(headers or {}))


def test_it_offers_the_demo_when_there_are_no_keys(alice_client):
    r = alice_client.get("/")
    assert r.status_code == 200
    assert names(r) == {"key", "model", "scene", "prompt", "reference", "size", "n"}
    assert b"Free: the demo draws images" in r.content
    assert b'data-maxlength="2000"' in r.content


def test_it_picks_the_default_key_and_shapes_the_form_for_its_vendor(alice_client, alice):
    girl = key(alice, "girlgenerator")
    r = alice_client.get("/")
    form = r.context["form"]
    assert form.initial["key"] == str(girl.pk)
    # Aspect ratios, one image per request, the vendor's published price.
    assert names(r) == {"key", "model", "scene", "prompt", "reference", "aspect_ratio"}
    assert b"1\xe2\x80\x933 credits per image" in r.content


@pytest.mark.parametrize(
    ("vendor", "model", "expected"),
    [
        ("aioagi", "gpt-image-2", {"size", "n", "quality", "background", "output_format"}),
        ("lemondata", "dall-e-3", {"size", "quality", "style"}),
        ("lemondata", "flux-pro", {"size", "n"}),
        ("chatfire", "seedream-3.0", {"size", "n"}),
        ("chatbp", "dall-e-3", {"size"}),
    ],
)
def test_the_fragment_follows_the_vendor_and_model(alice_client, alice, vendor, model, expected):
    credential = key(alice, vendor)
    r = alice_client.get(
        "/generate/form/", {"key": credential.pk, "model": model, "prompt": "kept"}, **HTMX
    )
    assert r.status_code == 200
    assert b"<html" not in r.content and b'id="generate-form"' in r.content
    assert names(r) - {"key", "model", "scene", "prompt", "reference", "moderation"} >= expected
    assert b"kept</textarea>" in r.content
    assert b"Not published by the vendor." in r.content


def test_a_value_the_new_vendor_lacks_falls_back_to_its_default(alice_client, alice):
    credential = key(alice, "lemondata")
    r = alice_client.get("/generate/form/", {"key": credential.pk, "size": "512x768"}, **HTMX)
    assert r.context["form"].initial["size"] == "1024x1024"


def test_image_to_image_asks_for_references(alice_client, alice):
    credential = key(alice, "aioagi")
    r = alice_client.get("/generate/form/", {"key": credential.pk, "scene": "image-to-image"})
    assert "upload" in names(r)
    assert b'type="file"' in r.content


def test_url_vendors_explain_that_references_need_a_public_address(alice_client, alice):
    credential = key(alice, "girlgenerator")
    r = alice_client.get("/generate/form/", {"key": credential.pk, "scene": "image-to-image"})
    assert "upload" in names(r)
    assert b"STUDIO_PUBLIC_URL" in r.content
    assert b'type="file"' not in r.content


def test_it_queues_a_job_and_redirects_without_htmx(alice_client, alice):
    r = post(alice_client, n="2", size="768x512")
    job = Generation.objects.get()
    assert r.status_code == 302 and r.url == f"/?from={job.pk}#job-{job.pk}"
    assert (job.owner, job.vendor, job.model, job.prompt) == (alice, "demo", "demo", "a red fox")
    assert job.params == {"n": 2, "size": "768x512"}
    assert job.credential is None


def test_with_htmx_it_answers_with_the_form_and_the_new_card(alice_client):
    r = post(alice_client, headers=HTMX)
    job = Generation.objects.get()
    assert r.status_code == 200
    assert b'id="generate-form"' in r.content
    assert b'hx-swap-oob="afterbegin:#jobs"' in r.content
    assert f'id="job-{job.pk}"'.encode() in r.content
    assert b'hx-trigger="every 2s"' in r.content
    # The settings stay for the next job.
    assert b"a red fox</textarea>" in r.content


def test_it_sends_the_job_with_the_chosen_key(alice_client, alice):
    credential = key(alice, "lemondata")
    r = post(alice_client, key=credential.pk, model="dall-e-3", size="1792x1024", quality="hd")
    assert r.status_code == 302
    job = Generation.objects.get()
    assert (job.vendor, job.credential, job.model) == ("lemondata", credential, "dall-e-3")
    assert job.params == {"size": "1792x1024", "quality": "hd"}


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_invalid_input_comes_back_with_messages_next_to_the_fields(alice_client, headers):
    r = post(alice_client, prompt="", headers=headers)
    assert r.status_code == 200
    assert "prompt" in r.context["form"].errors
    assert b'aria-invalid="true"' in r.content
    assert not Generation.objects.exists()


def test_the_engine_has_the_last_word(alice_client):
    r = post(alice_client, prompt="x" * 2001, headers=HTMX)
    assert r.status_code == 200
    assert r.context["form"].errors["prompt"] == ["The prompt is limited to 2000 characters."]
    assert not Generation.objects.exists()


def test_someone_elses_key_is_not_a_choice(alice_client, bob):
    bobs = key(bob, "aioagi")
    r = post(alice_client, key=bobs.pk, model="gpt-image-2")
    assert r.status_code == 200
    assert "key" in r.context["form"].errors
    assert not Generation.objects.exists()


def test_uploaded_references_go_with_the_job(alice_client, alice):
    credential = key(alice, "aioagi")
    upload = SimpleUploadedFile("cat.png", png(), content_type="image/png")
    r = post(
        alice_client,
        key=credential.pk,
        model="gpt-image-2",
        scene="image-to-image",
        upload=upload,
    )
    assert r.status_code == 302, r.context and r.context["form"].errors
    job = Generation.objects.get()
    reference = ReferenceImage.objects.get()
    assert list(job.references.all()) == [reference]
    assert reference.owner == alice


def test_a_bad_upload_is_refused_in_words(alice_client, alice):
    credential = key(alice, "aioagi")
    upload = SimpleUploadedFile("notes.png", b"not an image", content_type="image/png")
    r = post(
        alice_client, key=credential.pk, model="gpt-image-2", scene="image-to-image", upload=upload
    )
    assert r.status_code == 200
    assert "not a valid PNG" in " ".join(r.context["form"].errors["upload"])


def test_url_vendors_refuse_references_without_a_public_address(alice_client, alice):
    credential = key(alice, "chatfire")
    upload = SimpleUploadedFile("cat.png", png(), content_type="image/png")
    r = post(alice_client, key=credential.pk, model="jimeng", scene="image-to-image", upload=upload)
    assert r.status_code == 200
    assert "STUDIO_PUBLIC_URL" in str(r.context["form"].non_field_errors())


def test_url_vendors_take_references_with_a_public_address(alice_client, alice, settings):
    settings.STUDIO_PUBLIC_URL = "https://studio.example.com"
    credential = key(alice, "chatfire")
    upload = SimpleUploadedFile("cat.png", png(), content_type="image/png")
    r = post(alice_client, key=credential.pk, model="jimeng", scene="image-to-image", upload=upload)
    assert r.status_code == 302
    assert Generation.objects.get().references.count() == 1


def test_it_prefills_the_form_from_an_earlier_job(alice_client, alice):
    credential = key(alice, "lemondata")
    job = make_job(
        alice,
        vendor="lemondata",
        credential=credential,
        model="dall-e-3",
        params={"size": "1024x1792", "style": "natural"},
        prompt="again, please",
    )
    r = alice_client.get(f"/?from={job.pk}")
    initial = r.context["form"].initial
    assert (initial["key"], initial["model"], initial["size"], initial["style"]) == (
        str(credential.pk),
        "dall-e-3",
        "1024x1792",
        "natural",
    )
    assert b"again, please</textarea>" in r.content


def test_it_does_not_prefill_from_someone_elses_job(alice_client, bob):
    job = make_job(bob)
    assert alice_client.get(f"/?from={job.pk}").status_code == 404


def test_without_javascript_update_the_options_reshapes_the_form(alice_client, alice):
    credential = key(alice, "girlgenerator")
    r = alice_client.post("/", {"key": credential.pk, "prompt": "kept", "refresh": "1"})
    assert r.status_code == 200
    assert "aspect_ratio" in names(r)
    assert not r.context["form"].errors
    assert not Generation.objects.exists()


def test_it_lists_recent_jobs_but_not_dismissed_ones(alice_client, alice, bob):
    mine = make_job(alice, "mine")
    make_job(alice, "gone", status="failed").__class__.objects.filter(prompt="gone").update(
        dismissed_at="2026-01-01T00:00:00Z"
    )
    make_job(bob, "bob's")
    r = alice_client.get("/")
    assert [job.pk for job in r.context["jobs"]] == [mine.pk]


def test_someone_elses_reference_is_refused_visibly(alice_client, alice, bob):
    from studio.engine.references import save_reference

    theirs = save_reference(bob, png())
    credential = key(alice, "aioagi")
    r = post(
        alice_client,
        key=credential.pk,
        model="gpt-image-2",
        scene="image-to-image",
        reference=theirs.pk,
    )
    assert r.status_code == 200
    assert "reference" in r.context["form"].errors
    assert b'role="alert"' in r.content
    assert not Generation.objects.exists()


# --- custom sizes ------------------------------------------------------------------------------


def gpt_image(client, credential, headers=None, **fields):
    return post(client, headers, key=credential.pk, model="gpt-image-2", **fields)


def test_a_model_with_a_size_rule_offers_a_custom_size(alice_client, alice):
    credential = key(alice, "aioagi")
    r = alice_client.get("/generate/form/", {"key": credential.pk, "model": "gpt-image-2"}, **HTMX)
    form = r.context["form"]
    assert ("custom", "Custom size…") in form.fields["size"].choices
    # Choosing it asks the server for the reshaped form, as the other shaping choices do.
    assert 'hx-get="/generate/form/"' in str(form["size"])
    assert "width" not in names(r) and b"Custom size in pixels" not in r.content

    r = alice_client.get(
        "/generate/form/", {"key": credential.pk, "model": "gpt-image-2", "size": "custom"}, **HTMX
    )
    assert {"width", "height"} <= names(r)
    content = r.content.decode()
    assert "Custom size in pixels" in content
    assert 'step="16"' in content and 'max="3840"' in content
    for hint in ("Multiples of 16", "Longest side up to 3,840 px", "At least 655,360 pixels"):
        assert hint in content


def test_models_without_a_rule_offer_only_presets(alice_client, alice):
    credential = key(alice, "chatfire")
    r = alice_client.get("/generate/form/", {"key": credential.pk, "model": "seedream-3.0"})
    assert "custom" not in dict(r.context["form"].fields["size"].choices)
    r = post(alice_client, key=credential.pk, model="seedream-3.0", size="custom")
    assert "size" in r.context["form"].errors
    assert not Generation.objects.exists()


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_a_custom_size_goes_to_the_vendor_as_width_x_height(alice_client, alice, headers):
    credential = key(alice, "aioagi")
    r = gpt_image(alice_client, credential, headers, size="custom", width="2048", height="1152")
    assert r.status_code in (200, 302)
    job = Generation.objects.get()
    assert job.params["size"] == "2048x1152"
    assert "width" not in job.params and "height" not in job.params
    if headers:  # the fresh form keeps the custom size for the next job
        assert r.context["form"].initial["width"] == "2048"


@pytest.mark.parametrize("headers", [{}, HTMX])
@pytest.mark.parametrize(
    ("width", "height", "message"),
    [
        ("2000", "1000", "Width and height must be multiples of 16."),
        ("4096", "2048", "The longest side can be at most 3,840 pixels."),
        ("512", "512", "The image needs at least 655,360 pixels (width × height)."),
        ("3072", "1008", "The long side can be at most 3 times the short side."),
    ],
)
def test_a_size_the_rule_refuses_comes_back_with_the_rule(
    alice_client, alice, headers, width, height, message
):
    credential = key(alice, "aioagi")
    r = gpt_image(alice_client, credential, headers, size="custom", width=width, height=height)
    assert r.status_code == 200
    assert r.context["form"].errors["width"] == [message]
    content = r.content.decode()
    assert f'value="{width}"' in content and f'value="{height}"' in content
    assert 'aria-invalid="true"' in content
    assert not Generation.objects.exists()


def test_the_rule_is_explained_in_chinese(alice_client, alice):
    credential = key(alice, "aioagi")
    r = gpt_image(
        alice_client,
        credential,
        {"HTTP_ACCEPT_LANGUAGE": "zh-hans"},
        size="custom",
        width="2000",
        height="1000",
    )
    content = r.content.decode()
    assert "宽度和高度必须是 16 的倍数。" in content
    assert "自定义尺寸" in content


def test_without_javascript_a_custom_size_asks_for_its_numbers(alice_client, alice):
    # The page had no width and height inputs yet: the form comes back with them.
    credential = key(alice, "aioagi")
    r = gpt_image(alice_client, credential, size="custom")
    assert r.status_code == 200
    assert r.context["form"].errors["width"] == ["Enter a width and a height for the custom size."]
    assert b'name="width"' in r.content and b'name="height"' in r.content
    r = gpt_image(alice_client, credential, size="custom", width="wide", height="1024")
    assert r.context["form"].errors["width"] == ["Enter a whole number."]
    assert not Generation.objects.exists()


def test_an_earlier_jobs_free_size_comes_back_as_a_custom_size(alice_client, alice):
    credential = key(alice, "aioagi")
    job = make_job(
        alice,
        vendor="aioagi",
        credential=credential,
        model="gpt-image-2",
        params={"size": "2048x1152"},
    )
    r = alice_client.get(f"/?from={job.pk}")
    initial = r.context["form"].initial
    assert (initial["size"], initial["width"], initial["height"]) == ("custom", 2048, 1152)
    assert b'value="2048"' in r.content


# --- models a key's vendor lists ---------------------------------------------------------------


def test_a_keys_listed_models_are_offered_with_that_key_only(alice_client, alice, settings):
    listed = key(alice, "chatbp", "listed")
    listed.discovered_models = ["flux-2-pro", "dall-e-3"]
    listed.save()
    other = key(alice, "chatbp", "other")
    settings.STUDIO_VENDOR_URLS = {"chatbp": "https://relay.example.com"}

    def models(credential) -> list[str]:
        r = alice_client.get("/generate/form/", {"key": credential.pk}, **HTMX)
        return [name for name, _label in r.context["form"].fields["model"].choices]

    settings.STUDIO_DISCOVER_MODELS = False
    assert models(listed) == ["dall-e-3", "gpt-image-1"]
    r = post(alice_client, key=listed.pk, model="flux-2-pro")
    assert "model" in r.context["form"].errors

    settings.STUDIO_DISCOVER_MODELS = True
    assert models(listed) == ["dall-e-3", "gpt-image-1", "flux-2-pro"]
    assert models(other) == ["dall-e-3", "gpt-image-1"]
    r = post(alice_client, key=listed.pk, model="flux-2-pro", size="1792x1024")
    assert r.status_code == 302
    assert Generation.objects.get().model == "flux-2-pro"


def test_a_key_that_failed_verification_is_marked_in_the_picker(alice_client, alice):
    from accounts import vault

    good = vault.add_credential(alice, "girlgenerator", "good", "sk-good-0123456789")
    bad = vault.add_credential(alice, "chatfire", "typo", "sk-typo-0123456789")
    vault._record_verification(
        bad, "invalid_key", "Invalid key: the vendor refused it.", None, None
    )
    r = alice_client.get("/")
    html = r.content.decode()
    assert (
        f'<option value="{bad.pk}">ChatFire · typo · …6789 (failed verification)</option>' in html
    )
    assert f'value="{good.pk}" selected>GirlGeneratorAI · good · …6789</option>' in html
    assert "This key failed its last check" not in html
    r = alice_client.get(f"/?key={bad.pk}")
    assert "This key failed its last check: Invalid key: the vendor refused it." in (
        r.content.decode()
    )
    assert f'href="/keys/{bad.pk}/replace/"' in r.content.decode()


def test_it_opens_on_the_last_key_and_model(alice_client, alice):
    from django.utils import timezone

    from accounts import vault
    from studio.vendors import get_adapter

    key = vault.add_credential(alice, "girlgenerator", "paid", "sk-paid-0123456789")
    # No job yet: the default key.
    assert alice_client.get("/").context["form"].credential == key
    # A demo try stays on the demo: it never goes to the paid vendor by default.
    make_job(alice)
    assert alice_client.get("/").context["form"].vendor == "demo"
    # The last job's key and model, even when neither is the first of its list.
    other = vault.add_credential(alice, "aioagi", "second", "sk-second-0123456789")
    model = get_adapter("aioagi").capabilities.models[-1].name
    Generation.objects.create(
        owner=alice,
        vendor="aioagi",
        credential=other,
        model=model,
        prompt="x",
        deadline=timezone.now(),
    )
    form = alice_client.get("/").context["form"]
    assert form.credential == other and form.spec.name == model
    assert model != get_adapter("aioagi").capabilities.models[0].name
    # What the user asks for wins over what is remembered.
    assert alice_client.get(f"/?key={key.pk}").context["form"].credential == key
    # A revoked key is not remembered.
    vault.revoke_credential(other)
    assert alice_client.get("/").context["form"].credential == key
