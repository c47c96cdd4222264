"""Query encoders: texts -> vectors, with an on-disk cache."""

from polyroute.encoders._base import Encoder

__all__ = ["Encoder"]
