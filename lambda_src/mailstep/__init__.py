"""mailstep: event-driven lifecycle email on your own AWS account."""

__version__ = "0.1.0"
