"""Demo data: the fictional city 临江市 (江川省) with its organisations, staff and service catalog."""

from yiwang.demo.loader import Summary, load_demo

__all__ = ["Summary", "load_demo"]
