"""The composition root: settings, the tuneloop CLI, and the wiring of the parts."""
