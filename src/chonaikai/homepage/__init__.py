"""The association homepage as its officers edit it."""
