import io
import json
import logging

import structlog

from satellite.log import configure_logging
from satellite.secret import Secret

CANARY = "CANARY-SECRET-5f3a9c1e77"


def test_secret_type_never_shows_its_value():
    secret = Secret(CANARY)
    for text in (str(secret), repr(secret), f"{secret}", f"{secret!r}", str([secret]), str({"k": secret})):
        assert CANARY not in text
    assert secret.reveal() == CANARY


def test_logs_are_json_lines_with_secrets_redacted_everywhere():
    Secret(CANARY)
    out = io.StringIO()
    configure_logging("debug", json_output=True, stream=out)
    log = structlog.get_logger("test")
    log.info("by key", pat="some-other-value", api_key="also-hidden")
    log.info(f"in the message {CANARY}", url=f"https://user:{CANARY}@tfs.example/tfs")
    log.warning("nested", detail={"list": [CANARY, {"authorization": "Basic abc"}]})
    try:
        raise ValueError(f"failure mentioning {CANARY}")
    except ValueError:
        log.exception("with traceback")
    logging.getLogger("httpx").warning("header Authorization: Basic OkNBTkFSWS1TRUNSRVQ=")
    text = out.getvalue()
    assert CANARY not in text and "some-other-value" not in text and "also-hidden" not in text and "OkNBTkFSWS1TRUNSRVQ=" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["event"] for line in lines][:2] == ["by key", "in the message ***"]
    assert lines[3]["exception"][0]["exc_value"] == "failure mentioning ***"


def test_console_output_when_asked():
    out = io.StringIO()
    configure_logging("info", json_output=False, stream=out)
    structlog.get_logger("test").info("readable", stream="git.commits")
    assert "readable" in out.getvalue() and not out.getvalue().lstrip().startswith("{")
