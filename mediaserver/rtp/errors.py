"""The single exception type raised by every parser in the RTP package."""

__all__ = ["ParseError"]


class ParseError(ValueError):
    """Malformed or truncated RTP/RTCP/payload bytes.

    Subclassing ValueError lets callers that already catch ValueError keep working, while the
    hot path can catch exactly this type and drop the datagram without masking real bugs.
    """
