"""Configs: one-line messages for a config's errors (``validation``, file and key named) and the JSON-schema
fragments that methods and figure types declare for their options (``fragments``).

Torch-free; imports only ``errors``. Everything that declares options builds on it.
"""
