"""Stamped requests are the requests googleapiclient would have built, for awkward values too."""

from __future__ import annotations

import pytest

from connectors.google.classroom import ROSTER_FIELDS
from connectors.google.stamp import PLACEHOLDER, RequestStamp

VALUES = ["123456789012", "d:maths-7a", "p:a/b c", "ünïcødé", "x+y&z=1?#", "a%2Fb", "~._-", "", PLACEHOLDER]


@pytest.fixture
def client(google):
    return google("tiny").client()


@pytest.mark.parametrize("role", sorted(ROSTER_FIELDS))
def test_a_stamped_request_is_the_library_built_request(client, role):
    coll = client.resource("classroom", "courses", role)

    def build(course_id: str):
        return coll.list(courseId=course_id, pageSize=1000, fields=ROSTER_FIELDS[role], pageToken=None)

    stamp = RequestStamp(build)
    for value in VALUES:
        mine, theirs = stamp(value), build(value)
        assert (mine.uri, mine.method, mine.body, mine.headers, mine.methodId) == \
               (theirs.uri, theirs.method, theirs.body, theirs.headers, theirs.methodId), value
        assert mine.postproc == theirs.postproc


def test_stamps_do_not_share_mutable_state(client):
    coll = client.resource("classroom", "courses", "students")
    stamp = RequestStamp(lambda cid: coll.list(courseId=cid))
    a, b = stamp("1"), stamp("2")
    a.headers["x-test"] = "1"
    a.add_response_callback(lambda resp: None)
    assert "x-test" not in b.headers and not b.response_callbacks and "/courses/2/" in b.uri


def test_a_value_that_is_not_a_whole_path_segment_is_built_by_the_library(client):
    coll = client.resource("directory", "users")
    stamp = RequestStamp(lambda q: coll.list(customer="my_customer", query=q))  # a query parameter, not a segment
    assert stamp("email:a*").uri == coll.list(customer="my_customer", query="email:a*").uri
