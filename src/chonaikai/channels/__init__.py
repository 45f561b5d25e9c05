"""Channels that are not a package of their own: e-mail and paper (LINE lives in ``line/``)."""
