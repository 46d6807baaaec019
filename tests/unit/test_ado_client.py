"""AdoClient against pytest-httpx: auth headers, api-version negotiation, paging, retries, every error kind."""

import base64
import json
import threading

import httpx
import pytest

from satellite.ado.client import AdoClient, CollectionTarget, TlsOptions
from satellite.errors import (
    AdoAuthError,
    AdoNotFoundError,
    AdoPermissionError,
    AdoResponseError,
    AdoTransportError,
    AdoVersionError,
)
from satellite.retrying import RetryPolicy
from satellite.secret import Secret
from tests.support import ca_pem, wait_until

C = "https://tfs.example.test/tfs/DefaultCollection"
PAT = "CANARY-PAT-unit-0123456789"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def client(sleeps):
    c = AdoClient(CollectionTarget(C, "DefaultCollection"), Secret(PAT), retry=RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05, sleep=sleeps))
    yield c
    c.close()


def options_body(max_version: float) -> dict:
    return {"count": 1, "value": [{"id": "x", "area": "core", "resourceName": "projects", "routeTemplate": "_apis/{resource}",
                                    "resourceVersion": 1, "minVersion": 1.0, "maxVersion": max_version, "releasedVersion": str(max_version)}]}


def add_options(httpx_mock, max_version=7.0):
    httpx_mock.add_response(method="OPTIONS", url=f"{C}/_apis", json=options_body(max_version))


def wrapped(message: str, type_key: str = "VssServiceException") -> dict:
    return {"$id": "1", "innerException": None, "message": message, "typeName": type_key, "typeKey": type_key, "errorCode": 0, "eventId": 3000}


def test_every_request_carries_pat_basic_auth_and_suppress_header(httpx_mock, client):
    add_options(httpx_mock)
    httpx_mock.add_response(url=f"{C}/_apis/projects/p1?api-version=7.0", json={"id": "p1"})
    assert client.get("_apis/projects/p1") == {"id": "p1"}
    for request in httpx_mock.get_requests():
        assert request.headers["Authorization"] == "Basic " + base64.b64encode(f":{PAT}".encode()).decode()
        assert request.headers["X-TFS-FedAuthRedirect"] == "Suppress"


@pytest.mark.parametrize("advertised, used", [(5.0, "5.0"), (5.1, "5.0"), (6.0, "6.0"), (6.1, "6.0"), (7.0, "7.0"), (7.1, "7.1"), (7.2, "7.1")])
def test_api_version_from_options(httpx_mock, client, advertised, used):
    add_options(httpx_mock, advertised)
    version = client.api_version()
    assert version.base == used and version.server_max == f"{advertised:.1f}"
    assert version.for_route(preview=True) == f"{used}-preview"


def test_api_version_from_out_of_range_probe_when_options_is_missing(httpx_mock, client):
    httpx_mock.add_response(method="OPTIONS", url=f"{C}/_apis", status_code=404, html="<html>Page not found.</html>")
    httpx_mock.add_response(
        url=httpx.URL(f"{C}/_apis/projects", params={"api-version": "99.0", "$top": "1"}),
        status_code=400,
        json=wrapped("The requested REST API version of 99.0 is out of range for this server. The latest REST API version this server supports is 6.0.", "VssVersionOutOfRangeException"),
    )
    assert client.api_version().base == "6.0"


def test_too_old_server_is_a_clear_version_error(httpx_mock, client):
    add_options(httpx_mock, 4.1)
    with pytest.raises(AdoVersionError, match="2019"):
        client.api_version()


def test_continuation_token_paging(httpx_mock, client):
    add_options(httpx_mock)
    base = f"{C}/_apis/things"
    httpx_mock.add_response(url=httpx.URL(base, params={"$top": "2", "api-version": "7.0"}), json={"count": 2, "value": [{"id": 1}, {"id": 2}]}, headers={"x-ms-continuationtoken": "t1"})
    httpx_mock.add_response(url=httpx.URL(base, params={"$top": "2", "api-version": "7.0", "continuationToken": "t1"}), json={"count": 2, "value": [{"id": 3}, {"id": 4}]}, headers={"x-ms-continuationtoken": "t2"})
    httpx_mock.add_response(url=httpx.URL(base, params={"$top": "2", "api-version": "7.0", "continuationToken": "t2"}), json={"count": 1, "value": [{"id": 5}]})
    pages = list(client.pages_by_token("_apis/things", page_size=2))
    assert [[i["id"] for i in p] for p in pages] == [[1, 2], [3, 4], [5]]


def test_repeated_continuation_token_is_a_loop_not_an_endless_walk(httpx_mock, client):
    add_options(httpx_mock)
    httpx_mock.add_response(url=httpx.URL(f"{C}/_apis/things", params={"$top": "2", "api-version": "7.0"}), json={"count": 2, "value": [{"id": 1}, {"id": 2}]}, headers={"x-ms-continuationtoken": "same"})
    httpx_mock.add_response(url=httpx.URL(f"{C}/_apis/things", params={"$top": "2", "api-version": "7.0", "continuationToken": "same"}), json={"count": 2, "value": [{"id": 3}, {"id": 4}]}, headers={"x-ms-continuationtoken": "same"})
    with pytest.raises(AdoResponseError, match="pagination loop"):
        list(client.pages_by_token("_apis/things", page_size=2))


def test_top_skip_paging_stops_on_an_empty_page_after_a_short_one(httpx_mock, client):
    add_options(httpx_mock)  # the cap is unknown: a short page may be a server cap (satellite.ado.paging)
    for skip, ids in ((0, [1, 2]), (2, [3, 4]), (4, [5]), (5, [])):
        httpx_mock.add_response(
            url=httpx.URL(f"{C}/_apis/things", params={"api-version": "7.0", "searchCriteria.$top": "2", "searchCriteria.$skip": str(skip)}),
            json={"count": len(ids), "value": [{"id": i} for i in ids]},
        )
    pages = list(client.pages_by_offset("_apis/things", page_size=2, top_param="searchCriteria.$top", skip_param="searchCriteria.$skip"))
    assert [i["id"] for p in pages for i in p] == [1, 2, 3, 4, 5]


def test_top_skip_paging_detects_an_ignored_skip(httpx_mock, client):
    add_options(httpx_mock)
    httpx_mock.add_response(url=httpx.URL(f"{C}/_apis/things", params={"api-version": "7.0", "$top": "2", "$skip": "0"}), json={"count": 2, "value": [{"id": 1}, {"id": 2}]})
    httpx_mock.add_response(url=httpx.URL(f"{C}/_apis/things", params={"api-version": "7.0", "$top": "2", "$skip": "2"}), json={"count": 2, "value": [{"id": 1}, {"id": 2}]})
    with pytest.raises(AdoResponseError, match="pagination loop"):
        list(client.pages_by_offset("_apis/things", page_size=2))


@pytest.mark.parametrize("status", [429, 503, 500, 502, 504, 408])
def test_transient_statuses_are_retried_honouring_retry_after(httpx_mock, client, sleeps, status):
    add_options(httpx_mock)
    url = f"{C}/_apis/projects/p1?api-version=7.0"
    httpx_mock.add_response(url=url, status_code=status, headers={"Retry-After": "3"}, json=wrapped("busy"))
    httpx_mock.add_response(url=url, json={"id": "p1"})
    assert client.get("_apis/projects/p1") == {"id": "p1"}
    assert len(sleeps) == 1 and sleeps[0] >= 3.0


def test_retry_after_as_http_date(httpx_mock, client, sleeps):
    add_options(httpx_mock)
    url = f"{C}/_apis/projects/p1?api-version=7.0"
    httpx_mock.add_response(url=url, status_code=429, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    httpx_mock.add_response(url=url, json={"id": "p1"})
    client.get("_apis/projects/p1")
    assert sleeps[0] == 600.0  # a far-future date is capped at max_retry_after


def test_a_back_off_ends_when_the_process_stops(httpx_mock):
    """``RetryPolicy.until(stop)``: the wait for a Retry-After of minutes gives up at the stop
    (``Stopping``) instead of holding a SIGTERM; no second attempt is sent."""
    import threading

    from satellite.errors import Stopping

    add_options(httpx_mock)
    url = f"{C}/_apis/projects/p1?api-version=7.0"
    httpx_mock.add_response(url=url, status_code=503, headers={"Retry-After": "300"}, json=wrapped("busy"))
    stop = threading.Event()
    client = AdoClient(CollectionTarget(C, "DefaultCollection"), Secret(PAT), retry=RetryPolicy(max_attempts=4).until(stop))
    outcome: list[BaseException] = []

    def get() -> None:
        try:
            client.get("_apis/projects/p1")
        except BaseException as exc:  # noqa: BLE001 - the test looks at what it was
            outcome.append(exc)

    thread = threading.Thread(target=get, daemon=True)  # a failure must not hold the run for 300 s
    thread.start()
    wait_until(lambda: len(httpx_mock.get_requests(url=url)) == 1, 10, "the 503")
    stop.set()
    thread.join(10)
    client.close()
    assert not thread.is_alive() and len(outcome) == 1 and isinstance(outcome[0], Stopping), outcome
    assert len(httpx_mock.get_requests(url=url)) == 1


def test_network_errors_are_retried_then_reported(httpx_mock, client, sleeps):
    add_options(httpx_mock)
    for _ in range(4):
        httpx_mock.add_exception(httpx.ConnectError("connection refused"), url=f"{C}/_apis/projects/p1?api-version=7.0")
    with pytest.raises(AdoTransportError, match="cannot connect"):
        client.get("_apis/projects/p1")
    assert len(sleeps) == 3


def test_retries_give_up_after_max_attempts(httpx_mock, client, sleeps):
    add_options(httpx_mock)
    for _ in range(4):
        httpx_mock.add_response(url=f"{C}/_apis/projects/p1?api-version=7.0", status_code=503)
    with pytest.raises(AdoTransportError, match="503"):
        client.get("_apis/projects/p1")
    assert len(sleeps) == 3


def test_203_html_sign_in_page_is_an_auth_failure(httpx_mock, client):
    add_options(httpx_mock)
    httpx_mock.add_response(url=f"{C}/_apis/projects?api-version=7.0", status_code=203, html="<!DOCTYPE html><html><title>Sign In</title></html>")
    with pytest.raises(AdoAuthError, match="HTML sign-in page"):
        client.get("_apis/projects")


def test_html_on_200_is_retried_like_a_5xx_and_then_names_route_and_collection(httpx_mock, client, sleeps):
    """A proxy or SSO front answering 200 with a page: retried (it may answer right next time)."""
    add_options(httpx_mock)
    httpx_mock.add_response(url=f"{C}/_apis/projects?api-version=7.0", status_code=200, html="<html><body>login</body></html>",
                            is_reusable=True)
    with pytest.raises(AdoResponseError) as info:
        client.get("_apis/projects")
    assert "HTML page" in str(info.value) and C in str(info.value) and "_apis/projects" in str(info.value)
    assert len(sleeps) >= 1


def test_html_on_200_then_json_succeeds(httpx_mock, client, sleeps):
    add_options(httpx_mock)
    httpx_mock.add_response(url=f"{C}/_apis/projects?api-version=7.0", status_code=200, html="<html><body>proxy</body></html>")
    httpx_mock.add_response(url=f"{C}/_apis/projects?api-version=7.0", json={"count": 0, "value": []})
    assert client.get("_apis/projects") == {"count": 0, "value": []}
    assert len(sleeps) == 1


def test_401_tf400813_names_the_collection_and_hides_the_pat(httpx_mock, client, sleeps):
    httpx_mock.add_response(method="OPTIONS", url=f"{C}/_apis", status_code=401,
                            json=wrapped("TF400813: The user '' is not authorized to access this resource.", "UnauthorizedRequestException"))
    with pytest.raises(AdoAuthError) as info:
        client.api_version()
    assert C in str(info.value) and "TF400813" in str(info.value)
    assert PAT not in str(info.value) and PAT not in repr(info.value)
    assert sleeps == []  # auth failures are not retried


@pytest.mark.parametrize("status, error", [(403, AdoPermissionError), (404, AdoNotFoundError), (400, AdoResponseError)])
def test_client_errors_map_to_their_kind(httpx_mock, client, status, error):
    add_options(httpx_mock)
    httpx_mock.add_response(url=f"{C}/_apis/projects/gone?api-version=7.0", status_code=status, json=wrapped("TF200016: The following project does not exist: gone."))
    with pytest.raises(error) as info:
        client.get("_apis/projects/gone")
    assert info.value.status == status


def test_preview_flag_error_is_a_version_error(httpx_mock, client):
    add_options(httpx_mock)
    httpx_mock.add_response(url=f"{C}/_apis/connectionData?api-version=7.0", status_code=400, json=wrapped(
        'The requested version "7.0" of the resource is under preview. The -preview flag must be supplied in the api-version for such requests. For example: "7.0-preview"',
        "VssInvalidPreviewVersionException"))
    with pytest.raises(AdoVersionError, match="-preview"):
        client.get("_apis/connectionData")


@pytest.mark.parametrize("body", [b'{"count": 2, "value": [{"id"', b"\x00\xff garbage", b"not json at all"])
def test_garbage_body_is_retried_then_a_response_error(httpx_mock, client, body):
    add_options(httpx_mock)
    url = f"{C}/_apis/projects?api-version=7.0"
    httpx_mock.add_response(url=url, content=body, headers={"Content-Type": "application/json"}, is_reusable=True)
    with pytest.raises(AdoResponseError, match="not valid JSON"):
        client.get("_apis/projects")
    assert len(httpx_mock.get_requests(url=url)) == 4  # every attempt of the policy: a malformed answer is transient


def test_a_malformed_answer_then_a_good_one_is_the_good_one(httpx_mock, client):
    """A proxy or a stressed server answering garbage once costs a retry, not the unit."""
    add_options(httpx_mock)
    url = f"{C}/p/_apis/git/repositories?api-version=7.0"
    httpx_mock.add_response(url=url, json={})
    httpx_mock.add_response(url=url, content=b'{"count": 1, "value": [{"id"', headers={"Content-Type": "application/json"})
    httpx_mock.add_response(url=url, json={"count": 1, "value": [{"id": "r"}]})
    assert client.get_list("p/_apis/git/repositories") == [{"id": "r"}]
    assert len(httpx_mock.get_requests(url=url)) == 3


def test_list_without_value_envelope_is_a_response_error(httpx_mock, client):
    add_options(httpx_mock)
    httpx_mock.add_response(url=httpx.URL(f"{C}/_apis/things", params={"$top": "5", "api-version": "7.0"}), json=[{"id": 1}],
                            is_reusable=True)
    with pytest.raises(AdoResponseError, match="count, value"):
        list(client.pages_by_token("_apis/things", page_size=5))


@pytest.mark.parametrize("body, got", [({}, "an object without 'value'"), ([], "a list"), ("Service Unavailable", "a string"),
                                       ({"count": 1, "value": "x"}, "'value' holding a string"), (None, "null")])
def test_a_list_read_is_the_list_or_an_error_never_an_empty_list(httpx_mock, client, body, got):
    add_options(httpx_mock)
    httpx_mock.add_response(url=f"{C}/p/_apis/git/repositories?api-version=7.0", content=json.dumps(body).encode(),
                            headers={"Content-Type": "application/json"}, is_reusable=True)
    with pytest.raises(AdoResponseError, match=f"^{C}: expected a {{count, value}} list from p/_apis/git/repositories, got {got}$"):
        client.get_list("p/_apis/git/repositories")
    assert len(httpx_mock.get_requests()) == 1 + 4  # OPTIONS, then every attempt: retried before the unit fails


def test_a_list_read_returns_the_route_s_list_key(httpx_mock, client):
    add_options(httpx_mock)
    httpx_mock.add_response(url=f"{C}/p/_apis/git/repositories?api-version=7.0", json={"count": 1, "value": [{"id": "r"}]})
    httpx_mock.add_response(url=f"{C}/_apis/build/builds/1/timeline?api-version=7.0", json={"id": "t", "records": [{"id": "s"}]})
    assert client.get_list("p/_apis/git/repositories") == [{"id": "r"}]
    assert client.get_list("_apis/build/builds/1/timeline", key="records") == [{"id": "s"}]


def test_get_many_of_lists_checks_each_and_keeps_missing_as_none(httpx_mock, client):
    add_options(httpx_mock)
    httpx_mock.add_response(url=f"{C}/b/1/timeline?api-version=7.0", json={"records": [{"id": "a"}]})
    httpx_mock.add_response(url=f"{C}/b/2/timeline?api-version=7.0", status_code=404, json=wrapped("gone"))
    httpx_mock.add_response(url=f"{C}/b/3/timeline?api-version=7.0", json={"id": "t"}, is_reusable=True)
    bodies = client.get_many(["b/1/timeline", "b/2/timeline", "b/3/timeline"], missing_ok=True, list_key="records")
    assert next(bodies) == [{"id": "a"}]
    assert next(bodies) is None
    with pytest.raises(AdoResponseError, match="expected an object with a list in 'records' from b/3/timeline"):
        next(bodies)


def test_get_many_sends_from_the_client_s_threads_and_decodes_in_the_caller_s(httpx_mock, client, monkeypatch):
    from satellite import json_codec

    add_options(httpx_mock)
    client.api_version()
    senders: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        senders.append(threading.current_thread().name)
        return httpx.Response(200, json={"id": request.url.path.rsplit("/", 1)[-1]})

    httpx_mock.add_callback(answer, is_reusable=True)
    decoders: list[threading.Thread] = []
    loads = json_codec.loads

    def recording_loads(data):
        decoders.append(threading.current_thread())
        return loads(data)

    monkeypatch.setattr(json_codec, "loads", recording_loads)
    assert list(client.get_many([f"_apis/things/{i}" for i in range(5)])) == [{"id": str(i)} for i in range(5)]
    assert len(senders) == 5 and all(name.startswith("ado-") for name in senders)
    assert decoders == [threading.current_thread()] * 5


def test_get_many_asks_again_after_a_malformed_answer_and_fails_only_when_every_retry_was_malformed(httpx_mock, client):
    add_options(httpx_mock)
    good, bad = f"{C}/b/1/timeline?api-version=7.0", f"{C}/b/2/timeline?api-version=7.0"
    httpx_mock.add_response(url=good, content=b'{"records": [{"id"', headers={"Content-Type": "application/json"})
    httpx_mock.add_response(url=good, json={"records": [{"id": "a"}]})
    httpx_mock.add_response(url=bad, content=b"not json", headers={"Content-Type": "application/json"}, is_reusable=True)
    bodies = client.get_many(["b/1/timeline", "b/2/timeline"], list_key="records")
    assert next(bodies) == [{"id": "a"}]
    assert len(httpx_mock.get_requests(url=good)) == 2
    with pytest.raises(AdoResponseError, match="not valid JSON for /tfs/DefaultCollection/b/2/timeline"):
        next(bodies)
    assert len(httpx_mock.get_requests(url=bad)) == 1 + 4  # the answer read ahead, then every attempt of the policy


def test_a_walk_can_start_from_a_first_page_already_read(httpx_mock, client):
    from satellite.ado.paging import TopSkip

    add_options(httpx_mock)
    httpx_mock.add_response(url=httpx.URL(f"{C}/_apis/things", params={"$top": "2", "$skip": "2", "api-version": "7.0"}),
                            json={"count": 1, "value": [{"id": 3}]})
    first = {"count": 2, "value": [{"id": 1}, {"id": 2}]}
    pages = list(client.pages("_apis/things", TopSkip(2, cap=2), first=first))  # a known cap: the short page ends it
    assert [[i["id"] for i in p.items] for p in pages] == [[1, 2], [3]]
    assert len([r for r in httpx_mock.get_requests() if r.method == "GET"]) == 1
    # a malformed page read ahead is asked for again (with retries) before the walk fails
    again = httpx.URL(f"{C}/_apis/things", params={"$top": "2", "$skip": "0", "api-version": "7.0"})
    httpx_mock.add_response(url=again, json={"value": None}, is_reusable=True)
    with pytest.raises(AdoResponseError, match="count, value"):
        list(client.pages("_apis/things", TopSkip(2), first={"value": None}))
    assert len(httpx_mock.get_requests(url=again)) == 4


def test_tls_is_verified_by_default_and_a_ca_bundle_builds_a_context(tmp_path):
    assert TlsOptions().httpx_verify() is True
    assert TlsOptions(verify=False).httpx_verify() is False
    bundle = tmp_path / "corp-ca.pem"  # a corporate CA of our own (no certifi needed)
    bundle.write_bytes(ca_pem())
    context = TlsOptions(ca_bundle=bundle).httpx_verify()
    assert context.verify_mode.name == "CERT_REQUIRED"
    assert [dict(n[0] for n in ca["subject"])["commonName"] for ca in context.get_ca_certs()] == ["Test Corp Root CA"]
