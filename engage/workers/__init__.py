"""Process entry points: each worker parses its work, calls engage.engine, and acknowledges."""
