"""Connectors: one module (or small package) per outside system, turning wire data into core records."""
