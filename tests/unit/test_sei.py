"""The SEI protocol module: one classifier for every answer, the Authorization header, the API-key
source (read anew on use) and the endpoint's client."""

from __future__ import annotations

import httpx
import pytest
from structlog.testing import capture_logs

from satellite.errors import ApiKeyError, ConfigError, DeliveryError
from satellite.http_clients import USER_AGENT
from satellite.secret import Secret
from satellite.sei import BATCHES_PATH, Answer, ApiKeySource, SeiEndpoint, authorization, classify
from tests.support import FakeClock

# -- classify -------------------------------------------------------------------------------

CLASSES = {
    Answer.STORED: [201],
    Answer.DUPLICATE: [200],
    Answer.RETRY: [None, 408, 409, 425, 429, 500, 502, 503, 504, 599],  # None: no answer (network, TLS, timeout)
    Answer.CREDENTIALS: [401, 403, 407],
    Answer.DEAD_LETTER: [400, 413, 422, 404, 405, 410, 415, 202, 204, 301, 302, 307, 600],
}


@pytest.mark.parametrize(("status", "expected"), [(s, a) for a, statuses in CLASSES.items() for s in statuses])
def test_every_answer_has_one_meaning(status, expected):
    assert classify(status) is expected


def test_the_table_covers_every_class():
    assert set(CLASSES) == set(Answer)


def test_only_stored_and_duplicate_are_accepted():
    assert {a for a in Answer if a.accepted} == {Answer.STORED, Answer.DUPLICATE}


def test_answers_are_the_upload_metric_labels():
    assert [a.value for a in Answer] == ["stored", "duplicate", "retry", "dead_letter", "refused"]


# -- authorization --------------------------------------------------------------------------


def test_the_key_goes_in_a_bearer_header():
    assert authorization(Secret("k-123_ABC.~+/=")) == {"Authorization": "Bearer k-123_ABC.~+/="}


@pytest.mark.parametrize(("key", "what"), [("CANARY-clé-4711", "not ASCII"), ("CANARY-key\n4711", "a control character"),
                                           ("CANARY-\x00-4711", "a control character")])
def test_a_key_no_header_can_carry_is_a_clear_error_that_never_shows_it(key, what):
    with pytest.raises(ApiKeyError, match="satellite.api_key cannot be sent") as info:
        authorization(Secret(key))
    assert what in str(info.value) and "CANARY" not in str(info.value)
    assert isinstance(info.value, DeliveryError)


# -- ApiKeySource ---------------------------------------------------------------------------


def test_the_key_is_read_anew_once_it_is_max_age_old():
    clock, reads = FakeClock(), iter(["first", "second", "third"])
    source = ApiKeySource(lambda: Secret(next(reads)), max_age=10.0, clock=clock)
    assert source.get().reveal() == "first"
    clock.now += 9.9
    assert source.get().reveal() == "first"
    clock.now += 0.1
    assert source.get().reveal() == "second"
    assert source.refresh().reveal() == "third"  # after a refusal: now, whatever its age


def test_a_failed_read_keeps_the_key_in_hand_and_says_why_once():
    clock, answers = FakeClock(), iter([ConfigError(["satellite.yml: cannot read the file"])] * 2 + ["rotated"])

    def read() -> Secret:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return Secret(answer)

    source = ApiKeySource(read, initial=Secret("old"), max_age=0.0, clock=clock)
    with capture_logs() as logs:
        assert source.get().reveal() == "old"
        assert source.get().reveal() == "old"
        assert source.get().reveal() == "rotated"
    assert [e["event"] for e in logs] == ["api_key_reload_failed"]


def test_a_fixed_key_is_never_read_again():
    source = ApiKeySource.fixed(Secret("fixed"))
    assert source.get() == source.refresh() == Secret("fixed")


def test_a_config_not_loaded_from_a_file_gives_its_key_as_is():
    class Settings:
        api_key = Secret("in-memory")

    class Config:
        source = "."
        satellite = Settings()

    assert ApiKeySource.from_config(Config()).refresh().reveal() == "in-memory"


# -- SeiEndpoint ----------------------------------------------------------------------------


def test_the_client_posts_below_the_endpoint_path_with_the_satellite_user_agent():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201)

    endpoint = SeiEndpoint("https://sei.example.test/ingest/")
    with endpoint.client(timeout=5, transport=httpx.MockTransport(answer)) as http:
        http.post(BATCHES_PATH, content=b"x")
    assert str(seen[0].url) == "https://sei.example.test/ingest/v1/satellite/batches"
    assert seen[0].headers["User-Agent"] == USER_AGENT
    assert endpoint.url_of(BATCHES_PATH) == "https://sei.example.test/ingest/v1/satellite/batches"
