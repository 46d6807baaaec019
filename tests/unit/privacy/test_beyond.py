"""Beyond the field catalog: identity-shaped objects, person strings, URLs and unknown fields anywhere in a
record (``satellite.privacy.beyond``), the declared fields they are told apart by (``known``), and the policy
that applies them (``unknown_fields``, fingerprint)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest

from satellite.config.model import FieldRules, PrivacySettings
from satellite.privacy import catalog
from satellite.privacy.beyond import identity_members, person_string, structural
from satellite.privacy.known import ANYTHING, KnownFields
from satellite.privacy.policy import PrivacyPolicy
from satellite.privacy.pseudonyms import Pseudonymizer
from satellite.streams import RECORD_TYPES
from satellite.streams.records import Record

REPO = Path(__file__).resolve().parents[3]
SECRET = "s" * 40
PEOPLE = ("pseudonymize_people",)
ALL = ("strip_text", "pseudonymize_people", "redact_names_and_urls")
T = "2026-01-01T00:00:00Z"
P = Pseudonymizer(SECRET)
GUID = "6f1b2c3d-0000-4000-8000-0123456789ab"


def policy(presets=PEOPLE, unknown_fields=None, fields=None, secret=SECRET) -> PrivacyPolicy:
    return PrivacyPolicy(presets=presets, fields=fields, pseudonyms=Pseudonymizer(secret), catalog=catalog.FIELDS,
                         environment_names=catalog.ENVIRONMENT_NAMES, unknown_fields=unknown_fields)


def identity(name="Jane Canary", login="CORP\\jane", **extra) -> dict:
    return {"displayName": name, "uniqueName": login, "id": GUID, "descriptor": "win.Uy0xLTUtMjE",
            "url": f"https://tfs.corp/_apis/Identities/{GUID}", "imageUrl": f"https://tfs.corp/_api/avatar?id={GUID}",
            **extra}


def pull_request(**extra) -> Record:
    data = {"pullRequestId": 7, "status": "active", "title": "Fix #3", "creationDate": T,
            "createdBy": identity(), "repository": {"id": GUID, "name": "repo"}, **extra}
    return Record("git.pull_request", f"{GUID}:7", "upsert", T, data)


# --- detection --------------------------------------------------------------------------------------


@pytest.mark.parametrize("node, members", [
    (identity(), {"displayName", "uniqueName", "imageUrl"}),
    ({"uniqueName": "jane@corp.example"}, {"uniqueName"}),
    ({"displayName": "Jane", "id": GUID}, {"displayName"}),
    ({"displayName": "Jane", "descriptor": "aad.x"}, {"displayName"}),
    ({"displayName": "Jane", "_links": {"avatar": {"href": "https://x"}}}, {"displayName"}),
    ({"displayName": "Jane", "imageUrl": "https://x/a.png", "profileUrl": "https://x/p"}, {"displayName", "imageUrl", "profileUrl"}),
    ({"providerDisplayName": "Jane", "descriptor": "win.S", "customDisplayName": "J"}, {"providerDisplayName", "customDisplayName"}),
    ({"principalName": "jane@corp.example", "mailAddress": "jane@corp.example", "directoryAlias": "jane",
      "subjectKind": "user"}, {"principalName", "mailAddress", "directoryAlias"}),
    ({"name": "Jane Canary", "email": "jane@corp.example", "date": T}, {"name", "email"}),
    # not identities: a project, a team-less name, a definition, a displayName alone
    ({"id": GUID, "name": "Payroll", "url": "https://x"}, set()),
    ({"displayName": "Minimum reviewers"}, set()),
    ({"name": "CI", "path": "\\", "revision": 3}, set()),
    ({"email": 3, "name": "x"}, set()),
])
def test_identity_shapes_and_their_personal_members(node, members):
    assert identity_members(node) == members


@pytest.mark.parametrize("value, person", [
    ("jane@corp.example", True), ("Jane.Doe+ci@sub.corp.example", True), ("CORP\\jane", True),
    ("corp.local\\jane.doe", True), ("Jane Canary <jane@corp.example>", True), ("Jane Canary <CORP\\jane>", True),
    (GUID, False), ("win.Uy0xLTUtMjE", False), ("1234", False), (T, False), ("active", False),
    ("see jane@corp.example", False),  # embedded: replaced in place, not as a whole
    ("Payroll\\Secret Team", False), ("$/Payroll/Main", False), ("https://tfs.corp/x", False), ("a@b", False),
])
def test_person_strings(value, person):
    assert person_string(value) is person


def test_structural_members_are_ids_and_times():
    assert all(structural(m) for m in ("id", "descriptor", "date", "ownerId", "closedDate", "subjectDescriptor"))
    assert not any(structural(m) for m in ("displayName", "identifier", "mail", None, 3))


# --- pseudonymize_people beyond the catalog -----------------------------------------------------------


def test_an_identity_outside_the_catalog_gets_the_catalogs_pseudonyms():
    record = pull_request(reviewedByExt=identity(), nested={"deeper": [{"who": identity()}]})
    out = policy(unknown_fields="keep").apply(record).data
    catalogued = out["createdBy"]
    assert catalogued["displayName"] == P.person("Jane Canary") and catalogued["uniqueName"] == P.person("CORP\\jane")
    for found in (out["reviewedByExt"], out["nested"]["deeper"][0]["who"]):  # same person, same pseudonym: joins hold
        assert {k: found[k] for k in ("displayName", "uniqueName", "imageUrl")} == {
            k: catalogued[k] for k in ("displayName", "uniqueName", "imageUrl")}
        assert found["id"] == GUID and found["descriptor"] == "win.Uy0xLTUtMjE"  # ids stay


def test_a_catalogued_identitys_uncatalogued_members_are_pseudonymized_too():
    record = pull_request(createdBy=identity(profileUrl="https://tfs.corp/profile/jane", directoryAlias="jane"))
    out = policy(unknown_fields="keep").apply(record).data["createdBy"]
    assert out["profileUrl"] == P.person("https://tfs.corp/profile/jane") and out["directoryAlias"] == P.person("jane")


def test_catalogued_values_are_pseudonymized_once():
    out = policy(unknown_fields="keep").apply(pull_request()).data
    assert out["createdBy"]["displayName"] == P.person("Jane Canary")  # not a pseudonym of the pseudonym


def test_person_strings_in_unknown_fields_and_lists():
    record = pull_request(ownerMail="Jane@Corp.example", aliases=["CORP\\jane", ["deep", "jane@corp.example"]],
                          signedOff="Jane Canary <jane@corp.example>", note="ask jane@corp.example today")
    out = policy(unknown_fields="keep").apply(record).data
    email = P.person("jane@corp.example")
    assert out["ownerMail"] == email and email.endswith("@pseudonym.invalid")  # case-folded as the catalog's
    assert out["aliases"] == [P.person("CORP\\jane"), ["deep", email]]
    assert out["signedOff"] == f"{P.person('Jane Canary')} <{email}>"
    assert out["note"] == f"ask {email} today"


def test_ids_keys_numbers_and_times_are_never_touched():
    record = pull_request(extId=GUID, extDescriptor="aad.NGVmZQ", weight=3, enabled=True, lastSeenDate=T, none=None)
    out = policy(presets=ALL).apply(record)
    assert out.key == record.key
    assert {k: out.data[k] for k in ("pullRequestId", "extId", "extDescriptor", "weight", "enabled", "lastSeenDate",
                                     "none", "creationDate")} == {
        "pullRequestId": 7, "extId": GUID, "extDescriptor": "aad.NGVmZQ", "weight": 3, "enabled": True, "lastSeenDate": T,
        "none": None, "creationDate": T}
    assert out.data["createdBy"]["id"] == GUID and out.data["repository"]["id"] == GUID


def test_pseudonyms_are_deterministic_and_keyed():
    record = pull_request(reviewedByExt=identity())
    first, again = policy().apply(record).data, policy().apply(copy.deepcopy(record)).data
    other = policy(secret="t" * 40).apply(record).data
    assert first == again
    assert first["reviewedByExt"]["uniqueName"] != other["reviewedByExt"]["uniqueName"]


def test_the_record_is_not_changed_in_place():
    record = pull_request(reviewedByExt=identity(), shadowQuota3="free text")
    before = copy.deepcopy(record.data)
    policy(presets=ALL).apply(record)
    assert record.data == before


def test_keep_rules_exempt_their_paths():
    record = pull_request(reviewedByExt=identity())
    out = policy(unknown_fields="keep", fields={"git.pull_request": FieldRules(keep=("reviewedByExt",))}).apply(record)
    assert out.data["reviewedByExt"] == identity()


def test_without_pseudonymize_people_identities_beyond_the_catalog_stay():
    record = pull_request(reviewedByExt=identity())
    out = policy(presets=("strip_text",), unknown_fields="keep").apply(record)
    assert out.data["reviewedByExt"] == identity()


# --- redact_names_and_urls and unknown_fields ------------------------------------------------------


def test_redact_makes_urls_anywhere_tokens():
    out = policy(presets=("redact_names_and_urls",), unknown_fields="keep").apply(
        pull_request(webAccessUri="https://tfs.corp/Payroll/_git/secret/pullrequest/7", label="plain")).data
    assert out["webAccessUri"] == P.url("https://tfs.corp/Payroll/_git/secret/pullrequest/7")
    assert out["label"] == "plain"


def test_drop_removes_unknown_strings_keeps_known_fields_ids_numbers_and_pseudonyms():
    record = pull_request(shadowQuota3="Qzcanary free text", flags={"regionHint": "secret", "weight": 2, "ownerId": GUID},
                          tagsExt=["a", 1], reviewedByExt=identity(),
                          reviewers=[{**identity(), "vote": 10, "trialNumber": 2, "comment": "looks fine"}])
    out = policy().apply(record).data  # a preset on: drop by default
    assert "shadowQuota3" not in out and out["flags"] == {"weight": 2, "ownerId": GUID} and out["tagsExt"] == [1]
    assert out["status"] == "active" and out["title"] == "Fix #3" and out["creationDate"] == T  # declared: kept
    assert out["reviewedByExt"] == {"displayName": P.person("Jane Canary"), "uniqueName": P.person("CORP\\jane"),
                                    "id": GUID, "descriptor": "win.Uy0xLTUtMjE",
                                    "imageUrl": P.person(identity()["imageUrl"])}  # its API url: not a person, dropped
    reviewer = out["reviewers"][0]
    assert reviewer["vote"] == 10 and reviewer["trialNumber"] == 2 and "comment" not in reviewer
    assert reviewer["url"] == identity()["url"]  # declared (IdentityRefWithVote.url): the preset's business, not drop's


def test_open_members_are_known_a_work_items_custom_fields():
    record = Record("wit.work_item", "c:7", "upsert", T, {"id": 7, "rev": 1, "fields": {
        "Custom.Notes": "free", "System.State": "Active", "Custom.Contact": "jane@corp.example"}, "shadowQuota3": "x"})
    out = policy().apply(record).data
    assert out["fields"]["Custom.Notes"] == "free" and out["fields"]["System.State"] == "Active"
    assert out["fields"]["Custom.Contact"] == P.person("jane@corp.example")  # a person, not catalogued: pseudonymized
    assert "shadowQuota3" not in out


def test_unknown_fields_default_and_explicit():
    assert policy(presets=()).unknown_fields == "keep" and policy().unknown_fields == "drop"
    assert policy(unknown_fields="keep").unknown_fields == "keep"
    bare = PrivacyPolicy(unknown_fields="drop")  # no preset, no secret needed
    out = bare.apply(pull_request(shadowQuota3="x")).data
    assert "shadowQuota3" not in out and out["createdBy"]["displayName"] == "Jane Canary"
    assert not bare.is_identity and PrivacyPolicy().is_identity
    with pytest.raises(ValueError):
        PrivacyPolicy(unknown_fields="maybe")


def test_the_fingerprint_covers_the_handling_beyond_the_catalog():
    prints = {policy(presets=p, unknown_fields=u).fingerprint for p in ((), PEOPLE) for u in ("keep", "drop")}
    assert len(prints) == 4
    assert PrivacyPolicy(unknown_fields="keep").fingerprint == PrivacyPolicy.none().fingerprint  # nothing beyond
    assert policy(unknown_fields="drop").fingerprint == policy().fingerprint  # the default is the effective drop


def test_the_config_option():
    assert PrivacySettings().unknown_fields is None
    assert PrivacySettings(unknown_fields="keep").unknown_fields == "keep"
    with pytest.raises(ValueError):  # pydantic's ValidationError
        PrivacySettings(unknown_fields="maybe")


# --- the known fields -------------------------------------------------------------------------------


def test_known_fields_cover_every_record_type_and_walk_the_spec():
    known = KnownFields.load()
    assert known.record_types == set(RECORD_TYPES)
    pr = known.root("git.pull_request")
    reviewer = known.step(known.step(pr, "reviewers"), 0)
    assert known.step(reviewer, "uniqueName") == ANYTHING and known.step(reviewer, "vote") == ANYTHING
    assert known.step(reviewer, "shadowQuota3") is None and known.step(pr, "shadowQuota3") is None
    assert known.step(known.step(known.root("wit.work_item"), "fields"), "Custom.Anything") == ANYTHING
    thread = known.root("git.pull_request_thread")
    assert known.step(known.step(thread, "properties"), "CodeReviewVotedByDisplayName") == ANYTHING  # open map
    assert known.root("no.such_type") == ANYTHING


def test_the_committed_known_fields_are_current():
    done = subprocess.run([sys.executable, "scripts/extract_known_fields.py", "--check"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_persons_inside_free_text_whose_strip_text_is_off():
    """A catalogued free-text map (a build's ``triggerInfo``) holding persons: pseudonymize_people reaches into it;
    names the catalog knows (an area path looks like ``DOMAIN\\user``) are left to their preset."""
    record = Record("build.build", "p:1", "upsert", T, {"id": 1, "triggerInfo": {
        "ci.message": "Fix, reviewed by jane@corp.example.", "ext": {"name": "Jane Canary", "email": "jane@corp.example"},
        "who": "CORP\\jane", "shadowQuota3": "kept: free text is known"}, "definition": {"path": "Payroll\\jane"}})
    out = policy().apply(record).data
    info = out["triggerInfo"]
    assert info["ci.message"] == f"Fix, reviewed by {P.person('jane@corp.example')}."  # embedded e-mail
    assert info["ext"] == {"name": P.person("Jane Canary"), "email": P.person("jane@corp.example")}
    assert info["who"] == P.person("CORP\\jane") and info["shadowQuota3"] == "kept: free text is known"
    assert out["definition"]["path"] == "Payroll\\jane"  # a name: redact_names_and_urls's, off here
    stripped = policy(presets=ALL).apply(record).data["triggerInfo"]
    assert stripped["ci.message"] == "" and stripped["ext"]["name"] == ""  # strip_text on: the text is stripped


def test_a_commit_message_ending_in_a_sign_off_keeps_its_text():
    """In free text a line ``Name <address>`` (after a trailer's token) is a person: that line's name and
    address are replaced, the rest of the text stays; a value that is one such line is a person as a whole."""
    message = "Fix the timeout AB#12 for ops@corp.example\n\nSigned-off-by: Jane Canary <jane@corp.example>\n"
    email, name = P.person("jane@corp.example"), P.person("Jane Canary")
    shaped = f"Fix the timeout AB#12 for {P.person('ops@corp.example')}\n\nSigned-off-by: {name} <{email}>\n"
    commit = Record("git.commit", "r:c", "upsert", T, {"commitId": "c", "comment": message})
    assert policy().apply(commit).data["comment"] == shaped  # strip_text off: the text stays
    one_line = "Fix, thanks Jane <jane@corp.example>"
    commit = Record("git.commit", "r:c", "upsert", T, {"commitId": "c", "comment": one_line})
    assert policy().apply(commit).data["comment"] == f"{P.person('Fix, thanks Jane')} <{email}>"  # errs to replacing
    unknown = policy(unknown_fields="keep").apply(pull_request(signOff="Jane Canary <CORP\\jane>", multiLine=message)).data
    assert unknown["signOff"] == f"{name} <{P.person('CORP' + chr(92) + 'jane')}>" and unknown["multiLine"] == shaped
    assert "multiLine" not in policy().apply(pull_request(multiLine=message)).data  # drop: only whole persons stay
    assert person_string(one_line) and not person_string(one_line, named=False) and not person_string(message)
    assert policy().apply(commit).data == policy().apply(Record("git.commit", "r:c", "upsert", T, {
        "commitId": "c", "comment": one_line})).data  # deterministic
