"""From run directories to tidy tables, and from tables to figures (which never read run directories).

Layer: may import ``replication``, ``branch_types`` (labels), ``records``, ``config`` and the shared modules;
``plan`` (figure options) and ``cli`` build on it.
"""
