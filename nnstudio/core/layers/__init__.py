"""Layer specs. ``registry.get_spec(type_id)`` is the way in."""
