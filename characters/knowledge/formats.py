"""The text of a document file: ``.txt``, ``.md`` (kept as written) and text ``.pdf``.

A PDF's text is extracted page by page with pypdf; scanned pages (images) have none, and a PDF
with no text at all is refused. Soft line breaks of a PDF's layout are mended later, when the
text is cut into passages (:mod:`characters.knowledge.chunking`).
"""

from __future__ import annotations

import io

from characters.errors import InvalidInput

CONTENT_TYPES = {
    "text/plain": "txt",
    "text/markdown": "md",
    "application/pdf": "pdf",
}
"""Upload content types a document can be made from."""


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page of a PDF (empty for a page without text)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        return [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise InvalidInput("file: the PDF could not be read.", ["file"]) from e


def document_text(data: bytes, content_type: str) -> str:
    """The text of a document file of ``content_type`` (:data:`CONTENT_TYPES`), stripped of NUL
    characters (PostgreSQL's text cannot hold them; PDFs emit some). :class:`InvalidInput`
    names the problem: another type, text that is not UTF-8, nothing to read."""
    kind = CONTENT_TYPES.get(content_type)
    if kind is None:
        raise InvalidInput("file: documents can be made from .txt, .md or .pdf uploads.", ["file"])
    if kind == "pdf":
        text = "\n\n".join(page.strip() for page in pdf_pages(data) if page.strip())
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise InvalidInput("file: text files must be UTF-8.", ["file"]) from e
    text = text.replace("\x00", "").strip()
    if not text:
        what = "no text could be extracted from the PDF (a scan?)" if kind == "pdf" else "empty"
        raise InvalidInput(f"file: {what}.", ["file"])
    return text
