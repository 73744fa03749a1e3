"""Domain errors raised by services and translated to wire formats by the edges."""


class DomainError(Exception):
    """A request that breaks a rule. ``field`` names the offending input when there is one; ``problems``
    lists each ``(field, message)`` (one, unless the error gathers several, as a refused sign-up does)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.problems = [(field, message)]


class ValidationError(DomainError):
    """Input that is missing, malformed or out of range."""


class AuthenticationError(DomainError):
    """Missing, wrong or revoked credentials."""


class RateLimitedError(DomainError):
    """Too many failed attempts; try again later."""


class NotFoundError(DomainError):
    """The object does not exist for this account (foreign objects are reported the same way)."""


class ConflictError(DomainError):
    """The object is in a state that does not allow the operation."""
