"""The central office's checks, review decisions, progress and the daily report."""
