"""Mail transports implementing :class:`integration.protocols.Mailer`: SMTP, a directory of .eml
files (demo), and Gmail send through domain-wide delegation."""
