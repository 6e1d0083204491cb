"""The conversation engine: listen (VAD, end of turn, speech recognition), think (a language
model speaking as the character) and answer in the character's voice, fully offline.

* :mod:`.engine`: the models of a process (:class:`~.engine.Engines`) and one character's
  conversation (:class:`~.engine.Conversation`): text in, spoken answer out.
* :mod:`.voice`: the same driven by live audio, with speculation and barge-in.
* :mod:`.listener`, :mod:`.vad`, :mod:`.turn`, :mod:`.stt`: turn-taking and recognition.
* :mod:`.llm`, :mod:`.prompt`, :mod:`.spoken`: language models, the character's prompt, and the
  parser from model output to speakable text and tool calls.
* :mod:`.commands`: ``characters chat``.
"""
