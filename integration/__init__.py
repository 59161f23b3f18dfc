"""SafeChannels core: people, channels, rules, findings, acknowledgements, alerts.

The core never imports a Google or Moodle client; it talks to outside systems
through the protocols in :mod:`integration.protocols`.
"""

__version__ = "0.1.0"
