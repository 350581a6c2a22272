"""The terminal side: rendering for people (rich), progress views, escaping of untrusted text,
and the status watch. May import: runtime and below; never an adapter directly.
"""
