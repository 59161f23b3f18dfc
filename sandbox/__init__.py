"""A simulated school Google Workspace domain that speaks Google's real wire format.

``generate(size, seed)`` builds the data; ``SandboxServer(domain).start()`` serves it over
real HTTP (token endpoint, Directory, Classroom, and any API module in
``sandbox.server.API_MODULES``); ``write_config`` points the service at it.
"""

from sandbox.school import Domain, generate, truth

__all__ = ["Domain", "generate", "truth"]
