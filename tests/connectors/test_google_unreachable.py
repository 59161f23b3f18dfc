"""An endpoint nobody answers is found once, by a TCP probe, and every call to it fails at once,
naming host and port (issue 11 defects 7 and 8: minutes of retried connection errors before)."""

from __future__ import annotations

import socket

import pytest

from connectors.google.reach import Reachability
from connectors.google.scopes import SCOPES
from integration.errors import TransientError, Unreachable


def _users(client, subject):
    req = client.service("directory").users().list(customer="my_customer", maxResults=1)
    return client.execute("directory", req, subject=subject, scopes=SCOPES["directory"])


def test_a_stopped_google_fails_every_call_at_once_naming_host_and_port(google):
    g = google()
    client = g.client()  # max_attempts 7: each would have been retried with backoff
    assert _users(client, g.admin)["users"]
    port = g.server.port
    g.server.stop()  # the network path to Google goes away
    with pytest.raises(Unreachable) as err:
        _users(client, g.admin)
    assert err.value.endpoint == f"127.0.0.1:{port}" and "connection refused" in str(err.value)
    assert err.value.exit_code == 3 and f"127.0.0.1:{port}" in err.value.fix
    probes = client.reach.probes
    for _ in range(5):  # further calls (every stream, every check) fail without probing again
        with pytest.raises(Unreachable):
            client.check_token(g.admin, SCOPES["reports"])
    assert client.reach.probes == probes
    assert g.sleeps == []  # nothing was retried


def test_the_token_endpoint_down_is_named_too(google):
    g = google()
    client = g.client()
    g.server.stop()
    with pytest.raises(Unreachable) as err:
        client.check_token(g.admin, SCOPES["directory"])
    assert err.value.api == "oauth2" and err.value.endpoint.endswith(f":{g.server.port}")


def test_an_endpoint_that_answers_is_probed_once_and_errors_stay_retryable():
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        url = f"http://127.0.0.1:{listening.getsockname()[1]}/admin/directory/v1/users"
        reach = Reachability()
        reach.check(url, "directory")
        reach.check(url, "directory")
        assert reach.probes == 1
        err = TransientError("directory: network error: reset", api="directory")
        assert reach.after_error(url, "directory", err) is err  # it answers: the request is retried
    down = reach.after_error(url, "directory", err)  # closed now: nothing answers
    assert isinstance(down, Unreachable)


def test_an_unreachable_endpoint_is_probed_again_after_a_while():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/"  # bound, not listening: refused
        reach = Reachability(forget_after=0.0)
        for _ in range(2):
            with pytest.raises(Unreachable):
                reach.check(url, "reports")
        assert reach.probes == 2
