"""Data a page hands to its own script, as JSON inside <script type="application/json">.

The HTML parser reads a script element's text before any JSON parser does: "</script>" ends it, and
"<!--" followed by "<script" switches it into a state where the real "</script>" no longer ends it
(the block swallows the page's code). U+2028/2029 end a line in older JavaScript. So every <, >, &
and those two separators leave here as \\u escapes, which JSON.parse turns back into the same text."""

from __future__ import annotations

import json
from typing import Any

_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                          "\u2028": "\\u2028", "\u2029": "\\u2029"})


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe as the whole text of a <script type="application/json"> element."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).translate(_ESCAPES)
