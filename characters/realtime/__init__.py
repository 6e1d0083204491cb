"""Live calls: a realtime session's user and character talking over WebRTC.

The data flows one way through this package::

    client mic ─► webrtc.WebRTCPeer ─► runner.CallRunner ─► conversation.VoiceConversation
                                                                    │ the character's speech
    client ◄── tracks (audio, video) ◄── stage.AvatarStage ◄────────┘ (voice + face, one clock)

* ``calls``: the process's live calls (set-up at consume, the WHIP offer and hang-up, storage of
  transcripts and recordings, recovery at start). The HTTP side is ``api/routes/webrtc.py``.
* ``runner``: one call's lifecycle (RUNNING when media connects; END_CALL, hang-up, a vanished
  peer, the cap, engine errors) and its ``events`` messages (``events``).
* ``webrtc``: the embedded transport (aiortc): offer checks, ICE, the data channel.
* ``stage``, ``tracks``, ``encoder``, ``captions``: the character's media, paced from timestamps
  on one clock; barge-in; the words the user heard.
* ``recorder``: the call's MP4, written as it happens.
* ``client`` and ``commands``: a WebRTC client (``characters call``, tests, the benchmark).

Nothing outside this package knows which transport is in use. See ``docs/realtime.md``.
"""
