"""Paper (回覧板): the channel of every household no other channel reaches. Nobody sends it:
its rows wait until an officer prints the sheet (``chonaikai.printing``)."""

from chonaikai.delivery.channels import FALLBACK, ChannelSpec

SPEC = ChannelSpec(name=FALLBACK, reachable_sql="1 = 1", sender=None, label="紙（回覧板）")
