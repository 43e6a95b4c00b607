"""Care (REL-4): birthdays, festivals and scheduled call-backs, found set-based per day."""
