"""Pure rules: meeting detection, participant TTL, per-minute bucket arithmetic.

Nothing here does I/O or imports Qt or SQLAlchemy; every function takes the
current time as an argument so the rules can be property-tested.
"""
