"""A simulated phone speaking only the public phone protocol (``flask phone simulate``)."""
