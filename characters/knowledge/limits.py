"""How much knowledge a document and an avatar may hold, in tokens, and the errors that say so.

Runway allows 50 000 tokens of knowledge per avatar; so does ``knowledge_max_tokens`` by default.
Tokens are counted with the embedding model's tokenizer (about 1.3 per English word, 4 characters
each), once per document when it is indexed. A document over the limit is refused when it is
created or changed; attaching documents whose tokens add up to more than the limit to an avatar
is refused, and so is changing a document so that an avatar using it goes over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from characters.errors import InvalidInput


def check_document_tokens(tokens: int, max_tokens: int, path: Sequence[str] = ("content",)) -> None:
    """:class:`InvalidInput` (400) for a document of more than ``max_tokens`` tokens."""
    if tokens > max_tokens:
        raise InvalidInput(
            f"This document has {tokens:,} tokens; a document may have at most {max_tokens:,} "
            "(the knowledge limit of an avatar). Split it, or shorten it.",
            list(path),
        )


def check_avatar_tokens(
    tokens: Mapping[str, int],
    max_tokens: int,
    *,
    avatar: str | None = None,
    path: Sequence[str] = ("documentIds",),
) -> int:
    """The total of an avatar's documents' ``tokens`` (document id → tokens); :class:`InvalidInput`
    (400) naming the total when it is over ``max_tokens``. ``avatar`` names the avatar in the
    message (when a document change puts an existing avatar over)."""
    total = sum(tokens.values())
    if total > max_tokens:
        who = f"Avatar {avatar}" if avatar else "These documents"
        verb = "would have" if avatar else "have"
        raise InvalidInput(
            f"{who} {verb} {total:,} tokens of knowledge in {len(tokens)} document(s); an "
            f"avatar may have at most {max_tokens:,}.",
            list(path),
        )
    return total
