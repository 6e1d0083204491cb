"""Characters: self-hosted realtime conversational video avatars."""

__version__ = "0.1.0"
