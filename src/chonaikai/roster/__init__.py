"""Roster (名簿): 班, households (世帯) and the members living in them."""
