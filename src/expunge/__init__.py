"""expunge: machine unlearning that localizes, unlearns and proves it worked."""

__version__ = "0.1.0"
