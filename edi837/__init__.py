"""edi837: read, validate and gate X12 837P/837I claim files."""
