"""oversight: human oversight around AI systems that manage people at work."""
