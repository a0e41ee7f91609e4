"""``expunge report --html``: one self-contained comparison page over run, frontier, pool and study folders."""

from .page import render, write_html_report

__all__ = ["render", "write_html_report"]
