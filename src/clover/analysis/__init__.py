"""Aggregation of controller logs, the headline table and the paper's figures."""
