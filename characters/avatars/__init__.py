"""Avatars: reference image intake (decode, validate, normalise) and the processing step."""
