"""``satellite check`` for the SEI side: the endpoint is reachable, and accepts the API key and the keys.

A probe batch (sealed like any other, 0 records, stream ``satellite.probe``) is posted to
``POST {endpoint}/v1/satellite/probe``; the endpoint checks the API key (401), that our signing
key is registered (403) and that it can decrypt with its recipient key (422), and stores nothing.
The answer is read with the protocol's one rule (``satellite.sei.classify``), then its status
says which line failed. The keys line names the KEM of the recipient key new batches are sealed
to (``x25519``, or ``mlkem768-x25519``: hybrid post-quantum), and fails if the endpoint says its key
of that id is of another kind.
"""

from __future__ import annotations

import uuid

import httpx

from satellite.check.probes import CONNECT_TIMEOUT, NetworkTarget, network_checks
from satellite.check.result import SEI, CheckResult, failed, passed, skipped
from satellite.errors import ApiKeyError
from satellite.sealing.sealer import Sealer
from satellite.sei import (BATCH_CONTENT_TYPE, BATCHES_PATH, IDEMPOTENCY_KEY, PROBE_PATH, PROBE_STREAM, Answer, SeiEndpoint,
                           authorization, classify)

__all__ = ["sei_checks"]

API_KEY_HINT = ("set satellite.api_key to the API key SEI issued for this satellite (it comes from the environment or a"
                " mounted file: check the variable or file it points at)")


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", ""))[:300] if isinstance(body, dict) else ""


def sei_checks(config, *, timeout: float = CONNECT_TIMEOUT, read_timeout: float = 15.0) -> list[CheckResult]:
    settings = config.satellite
    endpoint = SeiEndpoint.from_settings(settings)
    network = NetworkTarget(SEI, settings.endpoint, settings.tls.verify, settings.tls.ca_bundle, settings.proxy,
                            "satellite.endpoint", "satellite.proxy", "satellite.tls")
    results = network_checks(network, timeout)
    url = endpoint.url_of(PROBE_PATH)
    if not all(r.ok for r in results):
        return results + [skipped(SEI, None, name, url, "the SEI endpoint cannot be reached") for name in ("api key", "keys")]
    try:
        headers = authorization(settings.api_key)
    except ApiKeyError as exc:
        return results + [failed(SEI, None, "api key", url, str(exc), API_KEY_HINT),
                          skipped(SEI, None, "keys", url, "no probe without an API key that can be sent")]
    try:
        sealer = Sealer.from_settings(settings)
    except (ValueError, TypeError) as exc:
        return results + [
            skipped(SEI, None, "api key", url, "no probe batch without the satellite's keys"),
            failed(SEI, None, "keys", url, f"cannot load the satellite's keys: {exc.__class__.__name__}",
                   "check satellite.encryption (recipient public key: PEM of its kem, x25519 or mlkem768-x25519;"
                   " signing_private_key: Ed25519 PKCS8 PEM)"),
        ]
    batch_id = str(uuid.uuid4())
    body = sealer.seal_records(batch_id=batch_id, integration_id="check", service="probe", stream=PROBE_STREAM, seq=0,
                               records=[], cursor_from=None, cursor_to=None)
    recipient_id, signer_id = sealer.recipient_key_id, sealer.signer_key_id
    kem = f"{sealer.kem}: {sealer.suite.names['kem']}" + (", hybrid post-quantum" if sealer.kem != "x25519" else "")
    try:
        with endpoint.client(timeout=httpx.Timeout(read_timeout, connect=timeout)) as http:
            response = http.post(PROBE_PATH, content=body, headers={
                **headers, "Content-Type": BATCH_CONTENT_TYPE, IDEMPOTENCY_KEY: batch_id})
    except httpx.HTTPError as exc:
        return results + [
            failed(SEI, None, "api key", url, f"no answer to the probe: {exc.__class__.__name__} {exc}".strip(),
                   "check satellite.endpoint (the SEI ingest base URL) and satellite.proxy"),
            skipped(SEI, None, "keys", url, "the probe got no answer"),
        ]
    status, answer, reason = response.status_code, classify(response.status_code), _error_text(response)
    said = f" ({reason})" if reason else ""
    refused = _refused_probe(status, answer, said)  # 403 and 422 pass the API key and fail the keys below
    if refused is not None:
        detail, hint, skip = refused
        return results + [failed(SEI, None, "api key", url, detail, hint), skipped(SEI, None, "keys", url, skip)]
    api_key = passed(SEI, None, "api key", url, "accepted")
    if status == 403:
        keys = failed(SEI, None, "keys", url,
                      f"the SEI endpoint does not know this satellite's signing key (signer key id {signer_id}, HTTP 403){said}",
                      "register the satellite's signing PUBLIC key (satellite-signing.pub from `satellite keys generate`) with"
                      " SEI, or set satellite.encryption.signing_private_key to the key SEI knows")
    elif status == 422:
        keys = failed(SEI, None, "keys", url,
                      f"the SEI endpoint cannot open a batch sealed to recipient key {recipient_id} ({kem}) (HTTP 422){said}",
                      "set satellite.encryption.recipient_key_id and recipient_public_key to SEI's current recipient key")
    else:
        opened = response.json() if "json" in response.headers.get("content-type", "") else {}
        opened = opened if isinstance(opened, dict) else {}
        if opened.get("recipient_key_id") not in (None, recipient_id) or opened.get("signer_key_id") not in (None, signer_id):
            keys = failed(SEI, None, "keys", url, "the SEI endpoint opened the probe with other key ids than configured "
                          f"(recipient {opened.get('recipient_key_id')}, signer {opened.get('signer_key_id')})",
                          "check satellite.encryption.recipient_key_id")
        elif opened.get("kem") not in (None, sealer.kem):
            keys = failed(SEI, None, "keys", url, f"the SEI endpoint's recipient key {recipient_id} is {opened.get('kem')},"
                          f" the configured one {sealer.kem}", "set the recipient key's kem to the kind SEI gave")
        else:
            keys = passed(SEI, None, "keys", url,
                          f"recipient key {recipient_id} (KEM {kem}) and signing key {signer_id} accepted")
    return results + [api_key, keys]


def _refused_probe(status: int, answer: Answer, said: str) -> tuple[str, str, str] | None:
    """(detail, hint, why the keys line is skipped) when the probe failed before the keys were looked at."""
    if answer is Answer.RETRY:
        return (f"the SEI endpoint answered HTTP {status} to the probe{said}",
                "retry later; if it persists, contact SEI support with this line", f"the probe failed (HTTP {status})")
    if status == 407:
        return (f"the proxy refused the satellite's credentials (HTTP 407){said}", "check satellite.proxy (user and password)",
                "the proxy refused the probe")
    if answer is Answer.CREDENTIALS and status != 403:
        return f"the SEI endpoint refused the API key (HTTP {status}){said}", API_KEY_HINT, "the API key was refused"
    if status in (404, 405):
        return (f"the endpoint has no satellite probe route (HTTP {status})",
                f"check satellite.endpoint: it is the SEI ingest base URL (batches go to {{endpoint}}{BATCHES_PATH})",
                "the probe route is missing")
    if answer is Answer.DEAD_LETTER and status != 422:
        return (f"the SEI endpoint refused the probe (HTTP {status}){said}",
                "check satellite.endpoint (the SEI ingest base URL); if it is right, contact SEI support with this line",
                f"the probe was refused (HTTP {status})")
    return None
