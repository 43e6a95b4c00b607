"""Customer segments (SEG-1, SEG-4): the value model, classification runs, overrides, reads."""
