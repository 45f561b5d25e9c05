"""Delivery and read receipts: one row per household × notice; outbox, worker, read links."""
