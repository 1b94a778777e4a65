"""The click-through overlay that shows the technician's annotations and pointer on the user's screen."""
