"""AdoClient builds a plain path's URL itself (one parse): it must be the URL httpx would have built."""

from __future__ import annotations

import httpx
import pytest

from satellite.ado.client import AdoClient, CollectionTarget
from satellite.secret import Secret

BASES = ["https://tfs.corp/tfs/DefaultCollection", "http://127.0.0.1:8080/tfs/Default Collection/",
         "https://tfs.corp:444/tfs/C%20D", "https://tfs.corp", "https://tfs.corp/tfs/Colección"]
PATHS = ["_apis/projects", "/_apis/projects", "Contoso Retail/_apis/git/repositories/7/pullrequests",
         "Contoso%20Retail/_apis/wit/workitems", "p/_apis/tfvc/items/$/Proj/a b.txt", "p/_apis/x/Ünïcode/",
         "_apis/a/./b/../c", "_apis/projects?$top=1", "_apis/x?y=1#f", "//other.host/_apis", "c:d/_apis",
         "https://elsewhere/_apis/projects", "", "a+b/%2F/~_-.!*'()[]@"]
PARAMS = [None, {}, {"api-version": "6.0"}, {"$top": 100, "$skip": 0, "api-version": "7.1-preview.1"},
          {"searchCriteria.status": "all", "continuationToken": "a b&c=d/é", "flag": True, "none": None,
           "many": ["1", 2], "empty": []}, {"api-version": "6.0", "ids": "1,2,3"},
          {"$top": 1}, {"$top": True}, {"$top": 1.0}, {"$top": "1"}, {"v": ("a", ["b"])}]  # equal keys, other encodings


@pytest.mark.parametrize("base", BASES)
def test_every_request_url_is_the_one_httpx_joins(base):
    seen: list[httpx.URL] = []
    client = AdoClient(CollectionTarget(base, "c"), Secret("pat"),
                       transport=httpx.MockTransport(lambda request: seen.append(request.url) or httpx.Response(200, json={})))
    reference = httpx.Client(base_url=base.rstrip("/") + "/")
    try:
        for path in PATHS * 2:  # the second time from the encoded queries remembered
            for params in PARAMS:
                client.request("GET", path, params)
                expected = reference.build_request("GET", path, params=params).url
                sent = seen[-1]
                assert (sent.raw_host, sent.port, sent.raw_path, str(sent)) == (
                    expected.raw_host, expected.port, expected.raw_path, str(expected)), (path, params)
        assert isinstance(client._url("_apis/projects", {"api-version": "6.0"})[0], httpx.URL)  # built here
        assert client._url("_apis/projects?$top=1", None) == ("_apis/projects?$top=1", None)  # left to httpx
    finally:
        client.close()
        reference.close()
