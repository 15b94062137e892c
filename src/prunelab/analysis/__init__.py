"""From run directories to tidy tables, and from tables to figures (which never read run directories)."""
