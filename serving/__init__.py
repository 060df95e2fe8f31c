"""Reading pushed models: find the latest version, load it, query it."""
