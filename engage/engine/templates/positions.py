"""Where in a template's text a mistake is: Jinja keeps only the line of a node or an error, so the
tokens are placed again (line and column) and the parser's failure is found among them.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, NamedTuple

from jinja2 import TemplateSyntaxError
from jinja2.lexer import TokenStream, ignored_tokens
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

TAGS = ("if", "elif", "else", "endif", "for", "endfor", "set", "endset", "with", "endwith", "filter",
        "endfilter", "macro", "endmacro", "call", "endcall", "raw", "endraw")
BLOCK_TAGS = frozenset({"if", "for", "with", "filter", "macro", "call", "block", "autoescape", "trans"})
_UNPARSED = ignored_tokens | {"raw_begin", "raw_end"}  # tokens the lexer drops before the parser


def did_you_mean(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(name, sorted(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Token(NamedTuple):
    line: int
    column: int  # 1-based
    type: str
    value: str
    significant: bool  # the parser sees it (not whitespace or a comment)


def _normalized(body: str) -> str:
    return re.sub(r"\r\n|\r", "\n", body)  # as Jinja's lexer reads it


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def tokens(env: ImmutableSandboxedEnvironment, body: str) -> list[_Token]:
    """Jinja's tokens with their columns, which Jinja does not keep: each raw token text is found in
    the source from where the previous one ended (whitespace control may drop some characters between
    tokens, never reorder them)."""
    return _lex(env, body)[0]


def _lex(env: ImmutableSandboxedEnvironment, body: str) -> tuple[list[_Token], int | None]:
    """The placed tokens, and where the lexer failed (the offset it could not read past), if it did."""
    text, offset, out = _normalized(body), 0, []
    try:
        for _, kind, raw in env.lexer.tokeniter(body, None):
            found = text.find(raw, offset)
            if found < 0:
                return out, None
            line, column = _position(text, found)
            out.append(_Token(line, column, kind, raw, kind not in _UNPARSED))
            offset = found + len(raw)
    except TemplateSyntaxError:
        return out, offset + len(text[offset:]) - len(text[offset:].lstrip())
    return out, None


def column_of(tokens: list[_Token], line: int, value: str, after: frozenset[str] | None = None,
            exclude_after: frozenset[str] = frozenset()) -> int | None:
    """Column of the first name token `value` on `line` whose preceding token fits; None if none does."""
    previous = ""
    for tok in tokens:
        if tok.type == "name" and tok.value == value and tok.line == line and (
                (after is None or previous in after) and previous not in exclude_after):
            return tok.column
        if tok.significant:
            previous = tok.value
    return None



def located_syntax_error(env: ImmutableSandboxedEnvironment, body: str,
                          exc: TemplateSyntaxError) -> tuple[str, int | None, int | None]:
    message, line = tidy(exc.message or "syntax error"), exc.lineno
    tokens, lex_failed_at = _lex(env, body)
    lexed_at = re.search(r" at (\d+)$", message)
    if lexed_at:  # the lexer names the offset of the character it could not read
        line, column = _position(_normalized(body), int(lexed_at.group(1)))
        return message[:lexed_at.start()], line, column
    if lex_failed_at is not None:  # e.g. an unbalanced bracket: the character after the last token read
        line, column = _position(_normalized(body), lex_failed_at)
        return message, line, column
    if message.lower().startswith("unexpected end of template"):
        return _unclosed(tokens) or (message, line, None)
    unknown_tag = re.match(r"Encountered unknown tag '(\w+)'", message)
    if unknown_tag:
        name = unknown_tag.group(1)
        column = column_of(tokens, line, name, frozenset({"{%", "{%-", "{%+"}))
        expected = re.search(r"looking for the following tags: (.*?)\. ", message + " ")
        if name in TAGS and expected:  # a real tag in the wrong place, e.g. {% endfor %} closing an if
            return f"unexpected tag {name!r}; expected {expected.group(1)}", line, column
        return f"unknown tag {name!r}{did_you_mean(name, TAGS)}", line, column
    failing = _failing_token(env, body, tokens)
    return message, (failing.line if failing else line), (failing.column if failing else None)


def _unclosed(tokens: list[_Token]) -> tuple[str, int, int] | None:
    """Where an unexpected end of template began: an unclosed '{{' or '{%', else the innermost block
    tag ({% if %}, {% for %}...) that has no end tag."""
    opener: _Token | None = None
    stack: list[tuple[str, _Token]] = []
    significant = [t for t in tokens if t.significant]
    for i, tok in enumerate(significant):
        if tok.type in ("variable_begin", "block_begin"):
            opener = tok
            nxt = significant[i + 1] if i + 1 < len(significant) else None
            if tok.type == "block_begin" and nxt is not None and nxt.type == "name":
                if nxt.value in BLOCK_TAGS:
                    stack.append((nxt.value, tok))
                elif nxt.value.startswith("end") and stack and stack[-1][0] == nxt.value[3:]:
                    stack.pop()
        elif tok.type in ("variable_end", "block_end"):
            opener = None
    if opener is not None:
        close = "}}" if opener.type == "variable_begin" else "%}"
        return f"'{opener.value}' is never closed with '{close}'", opener.line, opener.column
    if stack:
        tag, tok = stack[-1]
        return f"'{{% {tag} %}}' is never closed with '{{% end{tag} %}}'", tok.line, tok.column
    return None


def _failing_token(env: ImmutableSandboxedEnvironment, body: str, tokens: list[_Token]) -> _Token | None:
    """The token the parser stopped at: parse again counting the tokens it reads. Jinja's own error
    only carries the line."""
    read, in_lexer = 0, False

    def counted() -> Any:
        nonlocal read, in_lexer
        stream = env.lexer.wrap(env.lexer.tokeniter(body, None))
        while True:
            try:
                token = next(stream)
            except StopIteration:
                return
            except TemplateSyntaxError:
                in_lexer = True  # the token being read is the bad one
                raise
            read += 1
            yield token

    try:
        parser = Parser(env, body)
        parser.stream = TokenStream(counted(), None, None)
    except TemplateSyntaxError:
        return None
    try:
        parser.parse()
    except TemplateSyntaxError:
        index = read if in_lexer else read - 1 - len(getattr(parser.stream, "_pushed", ()))
        significant = [t for t in tokens if t.significant]
        return significant[index] if 0 <= index < len(significant) else None
    return None


def tidy(message: str) -> str:
    return message.strip().rstrip(".")



def deepest(tokens: list[_Token], limit: int) -> _Token | None:
    """The first token that opens a bracket or a block tag ({% if %}, {% for %}...) inside ``limit``
    others, if one does: the parser and the compiler recurse once (or more) per level."""
    depth, significant = 0, [t for t in tokens if t.significant]
    for i, tok in enumerate(significant):
        opens = closes = False
        if tok.type == "operator":
            opens, closes = tok.value in "([{", tok.value in ")]}"
        elif tok.type == "name" and i and significant[i - 1].type == "block_begin":
            opens, closes = tok.value in BLOCK_TAGS, tok.value.startswith("end") and tok.value[3:] in BLOCK_TAGS
        depth += opens - closes
        if depth > limit:
            return tok
    return None
