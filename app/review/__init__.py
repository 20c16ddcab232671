"""Design review: parse -> assess -> report."""
