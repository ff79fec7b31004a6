"""What can go wrong talking to an upstream, as stable codes the API reports."""

from __future__ import annotations


class UpstreamError(Exception):
    """An upstream call failed; ``code`` is one of the API's error codes.

    ``no_rates``          the upstream answered but had no service
    ``upstream_error``    it failed or answered nonsense
    ``upstream_auth``     it refused the stored credentials
    ``upstream_timeout``  it did not answer in time
    ``rate_limited``      no call budget was left within the deadline
    """

    def __init__(self, code: str, message: str, retry_after: float | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.status = status

    def __repr__(self) -> str:
        return f"UpstreamError({self.code!r}, {self.message!r})"
