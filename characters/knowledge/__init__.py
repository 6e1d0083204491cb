"""The knowledge base: documents an avatar's character answers from.

Documents (``.txt``, ``.md``, text ``.pdf`` or plain text content) are cut into passages
(:mod:`.chunking`), embedded once when they are created or changed (:mod:`.embedder`) and stored
with their vectors (:mod:`.store`). A conversation loads its avatar's passages into a
:class:`~.index.KnowledgeIndex`, which finds the passages for each user turn by meaning and by
keywords (:mod:`.keywords`). Limits (tokens per document and per avatar): :mod:`.limits`.
See docs/knowledge.md.
"""
