"""What can go wrong talking to an upstream, as stable codes the API reports."""

from __future__ import annotations


class UpstreamError(Exception):
    """An upstream call failed; ``code`` is one of the API's error codes.

    ``no_rates``          the upstream answered but had no service
    ``upstream_error``    it failed or answered nonsense
    ``upstream_auth``     it refused the stored credentials
    ``upstream_timeout``  it did not answer in time
    ``rate_limited``      no call budget was left within the deadline
    ``upstream_unavailable`` its circuit breaker is open
    ``unsupported_option`` the carrier does not offer an option asked for (a confirmation)
    ``busy``              every quote slot of the bulkhead is taken (never from an upstream)
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


# The HTTP answer each code becomes; the 503s say when to come back.
HTTP_STATUS = {"no_rates": 422, "unsupported_option": 422, "upstream_error": 502,
               "upstream_auth": 502, "upstream_timeout": 504, "rate_limited": 503,
               "upstream_unavailable": 503,
               "busy": 503}


def http_status(code: str) -> int:
    return HTTP_STATUS.get(code, 502)


def retry_after_headers(code: str, retry_after: float | None) -> dict[str, str]:
    """``Retry-After`` (whole seconds, at least 1) for the codes that answer 503."""
    if http_status(code) != 503:
        return {}
    return {"Retry-After": str(max(1, int(retry_after or 1)))}
