"""How a transfer's bytes move: one decision (strategy.py) and the mechanisms it picks from
(sendfile.py, splice.py, blocks.py, stream.py). Handlers ask plan.py for a transfer."""

from .plan import Transfer, download, listing, streamed_listing, upload
from .progress import Progress
from .strategy import Strategy

__all__ = ["Progress", "Strategy", "Transfer", "download", "listing", "streamed_listing", "upload"]
