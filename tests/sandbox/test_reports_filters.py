"""The sandbox's activities.list honours `eventName` and `filters` as Google documents them (discovery doc
admin.reports_v1 `filters`: a comma-separated list of conditions, operators == <> < <= > >=, a parameter given
twice keeps its last condition, a parameter the event does not have gives an empty report; gmail appendix:
nested parameters filter by their dotted full name, e.g. event_info.mail_event_type)."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from connectors.google.reports import flat_params
from sandbox import generate
from sandbox.activity import activity
from sandbox.server import SandboxServer

SCOPE = "https://www.googleapis.com/auth/admin.reports.audit.readonly"


@pytest.fixture(scope="module")
def gmail():
    dom = generate("tiny", 4)
    act = activity(dom)
    with SandboxServer(dom) as server:
        headers = {"Authorization": "Bearer " + server.access_token(dom.admin_email, [SCOPE])}
        url = server.url + "/admin/reports/v1/activity/users/all/applications/gmail"
        window = {"startTime": act.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "endTime": act.horizon.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventName": "delivery"}

        def read(**params) -> list[dict]:
            query, items = {**window, **params}, []
            while True:
                answer = requests.get(url, params=query, headers=headers, timeout=30)
                if answer.status_code != 200:
                    return answer.status_code  # type: ignore[return-value]
                body = answer.json()
                items += body.get("items", [])
                if not body.get("nextPageToken"):
                    return items
                query["pageToken"] = body["nextPageToken"]

        yield read
        assert server.problems() == []


def kinds(items: list[dict]) -> Counter:
    return Counter(str(flat_params(a["events"][0]["parameters"]).get("event_info.mail_event_type")) for a in items)


def test_every_documented_operator_on_the_mail_event_type(gmail):
    everything = kinds(gmail())
    assert set(everything) == {"1", "2", "7"}, "sent, received and first opens"
    assert kinds(gmail(filters="event_info.mail_event_type==2")) == {"2": everything["2"]}
    assert kinds(gmail(filters="event_info.mail_event_type<=2")) == {k: everything[k] for k in ("1", "2")}
    assert kinds(gmail(filters="event_info.mail_event_type<2")) == {"1": everything["1"]}
    assert kinds(gmail(filters="event_info.mail_event_type>2")) == {"7": everything["7"]}
    assert kinds(gmail(filters="event_info.mail_event_type>=7")) == {"7": everything["7"]}
    assert kinds(gmail(filters="event_info.mail_event_type<>7")) == {k: everything[k] for k in ("1", "2")}


def test_conditions_combine_a_repeated_parameter_keeps_the_last_and_an_absent_one_matches_nothing(gmail):
    everything = kinds(gmail())
    assert kinds(gmail(filters="event_info.mail_event_type==1,event_info.mail_event_type==7")) == {
        "7": everything["7"]}
    assert gmail(filters="event_info.no_such_parameter==1") == []
    assert gmail(eventName="change_user_access") == []
    assert gmail(filters="event_info.mail_event_type=2") == 400  # "=" is not an operator
