"""Offline rendering: a reference image and speech in, an MP4 of the avatar speaking out.

:func:`render_video` (``video``) drives the face engine at a fixed frame rate and encodes
H.264 + AAC; :func:`decode_audio` (``audio``) turns an audio file into speech it can take. Used
by ``characters render`` and by ``POST /v1/avatar_videos`` tasks.
"""

from characters.render.audio import UnreadableAudio, decode_audio
from characters.render.video import RenderResult, render_video

__all__ = ["RenderResult", "UnreadableAudio", "decode_audio", "render_video"]
