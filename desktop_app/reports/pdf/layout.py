"""Page layout rules a clinical document keeps (QtGui only, no widgets).

Qt's rich-text layout breaks pages wherever a line ends: a heading can end a
page with its table on the next. :func:`keep_together` moves such a heading to
the next page (a page break before it), one at a time, laying out again after
each. Table rows are kept whole by keeping them one line high (numbers, headers
and file names never wrap: ``white-space: nowrap`` in the report HTML): a page
break inside a table cell makes Qt draw an empty page of cell borders, so rows
are never broken by hand.
"""

from __future__ import annotations

from PySide6.QtGui import (
    QTextBlock,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)

MAX_MOVES = 200  # page breaks one document may gain (each one moves a heading)


def _page(y: float, page_height: float) -> int:
    return int(y // page_height)


def _break_before(block: QTextBlock) -> None:
    cur = QTextCursor(block)
    fmt = cur.blockFormat()
    fmt.setPageBreakPolicy(QTextFormat.PageBreakFlag.PageBreak_AlwaysBefore)
    cur.setBlockFormat(fmt)


def _stranded_heading(doc: QTextDocument, page_height: float) -> QTextBlock | None:
    """A heading whose page ends before what follows it begins."""
    layout = doc.documentLayout()
    block = doc.begin()
    while block.isValid():
        nxt = block.next()
        if block.blockFormat().headingLevel() > 0 and nxt.isValid():
            here = layout.blockBoundingRect(block)
            there = layout.blockBoundingRect(nxt)
            if _page(here.top(), page_height) != _page(there.top() + 12, page_height) and \
                    block.blockFormat().pageBreakPolicy() == QTextFormat.PageBreakFlag.PageBreak_Auto:
                return block
        block = nxt
    return None


def keep_together(doc: QTextDocument, page_height: float) -> int:
    """Page breaks before stranded headings and split table rows; returns how many."""
    moves = 0
    while moves < MAX_MOVES:
        heading = _stranded_heading(doc, page_height)
        if heading is None:
            return moves
        _break_before(heading)
        moves += 1
    return moves
