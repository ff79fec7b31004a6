"""Which Cin7 order a ship notice belongs to, and whether the notice may touch it.

A notice applies only to an order that exists, is in a branch ratecalc exports
(``RATECALC_CIN7_BRANCH_IDS``), and is neither cancelled nor void: a notice must
not revive a cancelled order or dispatch another branch's. Intake asks Cin7
before it acknowledges, so ShipStation shows the merchant the reason; when Cin7
cannot answer, the notice is stored and the delivery worker asks later.
"""

from __future__ import annotations

from dataclasses import dataclass

from ratecalc.shop.export.eligibility import check_branch
from ratecalc.shop.notices.parse import ShipNoticeError
from ratecalc.upstream.cin7.client import Cin7Client
from ratecalc.upstream.cin7.records import SalesOrder
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.transport import Deadline


def _word(value) -> str:
    return " ".join(str(value or "").split()).casefold()


class NoticeRefused(ShipNoticeError):
    """The notice names no order it may touch; the message is one line, for ShipStation."""


def refused_by_cin7(exc: UpstreamError) -> bool:
    """A 4xx about this one request (not our credentials, not a rate limit): retrying
    the same notice cannot help, so it fails alone with Cin7's message."""
    return (exc.status is not None and 400 <= exc.status < 500
            and exc.status not in (401, 403, 408, 429))


@dataclass(frozen=True)
class NoticeOrders:
    cin7: Cin7Client
    branch_ids: tuple[int, ...] = ()
    cancelled_stages: tuple[str, ...] = ("Cancelled",)

    def find(self, order_id: int | None, order_number: str | None,
             deadline: Deadline | None = None) -> SalesOrder | None:
        """The order by OrderID, else by OrderNumber. Raises UpstreamError."""
        if order_id is not None:
            raw = self.cin7.sales_order(order_id, deadline=deadline)
            if raw is not None:
                return SalesOrder(raw)
        if order_number:
            raw = self.cin7.sales_order_by_reference(order_number, deadline=deadline)
            if raw is not None:
                return SalesOrder(raw)
        return None

    def refusal(self, order: SalesOrder) -> str | None:
        """Why a notice may not touch ``order``; None when it may."""
        if order.is_void:
            return f"Cin7 order {order.id} is void"
        if _word(order.stage) in {_word(s) for s in self.cancelled_stages}:
            return f"Cin7 order {order.id} is cancelled"
        problem = check_branch(order, self.branch_ids)
        return f"Cin7 order {order.id}: {problem}" if problem else None

    def resolve(self, order_id: int | None, order_number: str | None,
                deadline: Deadline | None = None) -> SalesOrder:
        """The order a notice may touch. Raises NoticeRefused, or UpstreamError when Cin7
        cannot answer (a 4xx about the request becomes NoticeRefused)."""
        try:
            order = self.find(order_id, order_number, deadline)
        except UpstreamError as exc:
            if refused_by_cin7(exc):
                raise NoticeRefused(f"Cin7 refused the order lookup: {exc.message}") from None
            raise
        if order is None or order.id is None:
            named = " or ".join(([f"id {order_id}"] if order_id is not None else [])
                                + ([f"reference {order_number!r}"] if order_number else []))
            raise NoticeRefused(f"no Cin7 sales order with {named}")
        reason = self.refusal(order)
        if reason:
            raise NoticeRefused(reason)
        return order
