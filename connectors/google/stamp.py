"""Many requests to one method that differ only in one path parameter: built once, stamped per value.

Building a request through a discovery method validates and encodes every parameter (28 µs,
measured); a trust's roster read builds 6,000 that differ only in `courseId`. The template is
built by googleapiclient itself, with a placeholder for the parameter; each copy swaps the
placeholder's path segment for the value percent-encoded as uritemplate's simple expansion does
(every character but ALPHA, DIGIT and "-._~"), 4 µs. A test checks that stamped and library-built
requests are identical for awkward values.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from urllib.parse import quote

from googleapiclient.http import HttpRequest

PLACEHOLDER = "safechannels-stamp-placeholder"


class RequestStamp:
    """`stamp(value)` == `build(value)`, for a `build` whose value is one whole path segment."""

    def __init__(self, build: Callable[[str], HttpRequest]):
        self._build = build
        self._template = build(PLACEHOLDER)
        self._segment = f"/{PLACEHOLDER}"
        path = self._template.uri.split("?", 1)[0]
        # stamp only where the placeholder is exactly one path segment; anything else goes to the library
        self._usable = path.count(PLACEHOLDER) == 1 and (path.endswith(self._segment) or f"{self._segment}/" in path)

    def __call__(self, value: str) -> HttpRequest:
        if not self._usable:
            return self._build(value)
        template = self._template
        request = copy.copy(template)
        request.headers = dict(template.headers)
        request.response_callbacks = list(template.response_callbacks)
        request.uri = template.uri.replace(self._segment, "/" + quote(value, safe="~"), 1)
        return request
