"""The study's report: one self-contained HTML page with figures and tidy tables."""
