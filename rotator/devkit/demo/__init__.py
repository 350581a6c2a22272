"""`rotator demo`: the main job run on the embedded local stack (run), and its live view (live)."""
