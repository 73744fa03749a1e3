"""Legacy message status codes (stable integers) and their titles."""

PENDING = 1
TAKEN = 2
QUEUED = 3
INCOMING = 5
SENT = 6
DELIVERED = 7
NOT_DELIVERED = 8
FAILED_GENERIC = 9
FAILED_NO_SERVICE = 10
FAILED_NULL_PDU = 11
FAILED_RADIO_OFF = 12
CANCELLED = 13          # our extension: cancelled before it reached a phone (newsletter, device removal, by hand)
OPTED_OUT = 14          # our extension: withdrawn because the recipient opted out
NOT_ALLOWED = 100
NOT_ALLOWED_2 = 101

TITLES = {
    PENDING: "New",
    TAKEN: "sending",
    QUEUED: "queued on the phone",
    INCOMING: "incoming",
    SENT: "sent",
    DELIVERED: "delivered",
    NOT_DELIVERED: "not delivered",
    FAILED_GENERIC: "not sent: generic failure",
    FAILED_NO_SERVICE: "not sent: no service",
    FAILED_NULL_PDU: "not sent: null PDU",
    FAILED_RADIO_OFF: "not sent: radio off",
    CANCELLED: "cancelled",
    OPTED_OUT: "not sent: recipient opted out",
    NOT_ALLOWED: "not sent: not allowed",
    NOT_ALLOWED_2: "not sent: not allowed",
}

FAILED = frozenset({NOT_DELIVERED, FAILED_GENERIC, FAILED_NO_SERVICE, FAILED_NULL_PDU, FAILED_RADIO_OFF,
                    NOT_ALLOWED, NOT_ALLOWED_2})
WITHDRAWN = frozenset({CANCELLED, OPTED_OUT})
FINAL = FAILED | WITHDRAWN | {DELIVERED}
OUTGOING_OPEN = frozenset({PENDING, TAKEN, QUEUED, SENT})

# Forward order for "never move backwards": a report may only raise a message's rank.
# Queued (3) ranks below taken (2)'s successor states; the legacy order is 1, 3, 2 only for display.
RANK = {PENDING: 0, TAKEN: 1, QUEUED: 2, SENT: 3, DELIVERED: 4}
for _code in FAILED | WITHDRAWN:
    RANK[_code] = 5


def title(status: int) -> str:
    return TITLES.get(status, "unknown")
