"""Cascades for `model: "auto"`: cheap answer first, verified, escalated only when untrusted.

The edge (`api/edge.py`) hands a request whose auto pool has `mode = "cascade"` to
`Cascade` instead of straight to the gateway; `Cascade` makes its calls through the gateway
and settles them as one ledger record. It sits between the API and the gateway floors.
"""

from tokenport.cascade.runner import Cascade

__all__ = ["Cascade"]
