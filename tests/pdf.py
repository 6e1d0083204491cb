"""A minimal PDF writer for tests and benchmarks: pages of plain text in Helvetica.

Written by hand (no library) so that the PDF path of the knowledge base is tested on a file
whose text is known exactly: each line is one ``Tj`` of the standard Helvetica font, which
pypdf extracts as written.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

LINES_PER_PAGE = 48
CHARS_PER_LINE = 90


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def paginate(text: str) -> list[list[str]]:
    """``text`` wrapped at :data:`CHARS_PER_LINE` (paragraphs kept, blank lines between) and
    cut into pages of :data:`LINES_PER_PAGE` lines."""
    lines: list[str] = []
    for paragraph in text.split("\n\n"):
        for raw in paragraph.splitlines() or [""]:
            lines += textwrap.wrap(raw, CHARS_PER_LINE) or [""]
        lines.append("")
    return [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)]


def pdf_bytes(pages: Sequence[Sequence[str]]) -> bytes:
    """A PDF with one page per item of ``pages`` (each a list of lines, latin-1 text)."""
    objects: list[bytes] = []
    n = len(pages)
    # 1: catalog, 2: page tree, 3: font, then per page: page object, content stream.
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, lines in enumerate(pages):
        content = "BT /F1 11 Tf 14 TL 56 790 Td\n"
        content += "".join(f"({_escape(line)}) Tj T*\n" for line in lines) + "ET"
        stream = content.encode("latin-1", "replace")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {5 + 2 * i} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def text_pdf(text: str) -> bytes:
    """``text`` as a PDF of as many pages as it needs."""
    return pdf_bytes(paginate(text))
