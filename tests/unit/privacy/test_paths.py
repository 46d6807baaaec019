"""The privacy path matcher: the catalog's syntax, quoted members, ** and pattern overlap."""

from __future__ import annotations

import pytest

from satellite.privacy.paths import matches, overlaps, parse_path

P = parse_path


@pytest.mark.parametrize("text, expected", [
    ("comment", ("comment",)),
    ("author.email", ("author", "email")),
    ('fields."System.Title"', ("fields", "System.Title")),
    ('fields."System.Title".displayName', ("fields", "System.Title", "displayName")),
    ("**.uniqueName", ("**", "uniqueName")),
])
def test_parse(text, expected):
    assert parse_path(text) == expected


@pytest.mark.parametrize("text", ["", " ", "a..b", ".a", "a.", '"a', 'a"b', '"a"b', '""', '"**"'])
def test_bad_paths_are_refused_without_echoing_them(text):
    with pytest.raises(ValueError) as caught:
        parse_path(text)
    assert text.strip() == "" or text not in str(caught.value)


def test_a_member_holding_dots_matches_as_its_parts_or_quoted():
    at = ("fields", "System.Title")
    assert matches(P("fields.System.Title"), at)
    assert matches(P('fields."System.Title"'), at)
    assert not matches(P("fields.System"), at)
    assert not matches(P("fields.Title"), at)
    closed_by = ("fields", "Microsoft.VSTS.Common.ClosedBy", "displayName")
    assert matches(P("fields.Microsoft.VSTS.Common.ClosedBy.displayName"), closed_by)
    assert matches(P("fields.*.displayName"), closed_by)  # * is one member whole, dots and all
    assert matches(P("fields.System.*"), at)  # a part may be a pattern


def test_star_is_one_member_or_element_and_literals_never_match_an_element():
    assert matches(P("reviewers.*.uniqueName"), ("reviewers", 0, "uniqueName"))
    assert not matches(P("reviewers.uniqueName"), ("reviewers", 0, "uniqueName"))
    assert matches(P("*.uniqueName"), ("createdBy", "uniqueName"))
    assert not matches(P("*.uniqueName"), ("a", "createdBy", "uniqueName"))
    assert matches(P("labels.*"), ("labels", 3))


def test_double_star_is_any_depth_including_none():
    path = ("threads", 0, "comments", 2, "author", "uniqueName")
    assert matches(P("**.uniqueName"), path)
    assert matches(P("**.uniqueName"), ("uniqueName",))
    assert matches(P("threads.**.author.uniqueName"), path)
    assert not matches(P("**.displayName"), path)
    assert matches(P("**"), ("anything", 1))


def test_segments_are_fnmatch_patterns():
    assert matches(P("fields.System.Area*"), ("fields", "System.AreaPath"))
    assert matches(P("*Url"), ("remoteUrl",))
    assert not matches(P("*Url"), ("remote",))


def test_overlap_of_a_rule_with_catalog_paths():
    assert overlaps(P('fields."System.Title"'), P("fields.System.Title"))
    assert overlaps(P("createdBy"), P("createdBy.uniqueName"))  # a rule above a catalog path
    assert overlaps(P("createdBy.uniqueName.x"), P("createdBy.uniqueName"))  # or below it
    assert overlaps(P("**.uniqueName"), P("fields.*.uniqueName"))
    assert overlaps(P("fields.*.uniqueName"), P("fields.System.AssignedTo.uniqueName"))
    assert not overlaps(P("nosuchfield"), P("comment"))
    assert not overlaps(P("author.phone"), P("author.email"))
