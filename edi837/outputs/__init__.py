"""Outputs: claim-line tables, reports, acknowledgments, split files."""
