"""一网 (Yiwang): an integrated online government service platform."""

__version__ = "0.1.0"
