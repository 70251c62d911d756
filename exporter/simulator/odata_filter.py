"""A small OData v3 `$filter` parser and evaluator (own recursive-descent implementation).

Supported: comparisons eq/ne/gt/ge/lt/le, `and`/`or`/`not`, parentheses,
`startswith`, `endswith`, `substringof`, and the literals null, true, false,
'strings' (a quote doubled inside), numbers (optional L/M/D/F suffix) and
datetime'yyyy-mm-ddThh:mm[:ss[.fffffff]][Z]'. Keywords are case-sensitive, as in OData v3.

Precedence follows OData v3: `not` binds tightest (it applies to a primary, so write
`not (State eq 3)`), then gt/ge/lt/le, then eq/ne, then `and`, then `or`.

Nulls: `x eq null` is true when x is null; gt/ge/lt/le with a null side are false;
functions of a null string give null, which `and`/`or`/`not` treat three-valued and a
filter that ends up null does not match.

Any bad input raises ParseError (and nothing else); nesting depth and input length are
bounded, so evaluation cannot overflow the stack either.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum

MAX_FILTER_LENGTH = 65536
MAX_DEPTH = 64

Record = Mapping[str, object]
"""Property values of one entity; DATETIME properties as integer microseconds since epoch."""


class ParseError(ValueError):
    """The filter text is not something we accept; the message says why."""

    def __init__(self, message: str, position: int | None = None) -> None:
        if position is not None:
            message = f"{message} (at position {position})"
        super().__init__(message)
        self.position = position


class EdmType(Enum):
    STRING = "Edm.String"
    INT = "Edm.Int32"
    DOUBLE = "Edm.Double"
    DATETIME = "Edm.DateTime"
    BOOL = "Edm.Boolean"
    NULL = "null"


_NUMERIC = (EdmType.INT, EdmType.DOUBLE)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ARITHMETIC = frozenset({"add", "sub", "mul", "div", "mod"})
_EQUALITY = frozenset({"eq", "ne"})
_RELATIONAL = frozenset({"gt", "ge", "lt", "le"})
_KEYWORDS = _ARITHMETIC | _EQUALITY | _RELATIONAL | {"and", "or", "not"}


# ---------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # "ident", "literal", "(", ")", ",", "end"
    text: str
    position: int
    value: object = None
    type: EdmType | None = None


_SPACE = re.compile(r"\s+", re.ASCII)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?([mMdDfFlL])?", re.ASCII)
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:\.([0-9]{1,7}))?)?Z?",
    re.ASCII,
)


def read_string_literal(text: str, start: int) -> tuple[str, int]:
    """Read a '...' literal (quotes doubled inside) starting at the quote.

    Returns (value, index after the closing quote). Also used for keys in URL paths.
    """
    parts: list[str] = []
    i = start + 1
    while True:
        quote = text.find("'", i)
        if quote < 0:
            raise ParseError("unterminated string literal", start)
        parts.append(text[i:quote])
        if text.startswith("''", quote):
            parts.append("'")
            i = quote + 2
        else:
            return "".join(parts), quote + 1


def _datetime_ticks(literal: str, position: int) -> int:
    """datetime'...' content to 100 ns ticks since the Unix epoch."""
    match = _DATETIME.fullmatch(literal)
    if match is None:
        raise ParseError(f"invalid datetime literal {literal!r}", position)
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
            tzinfo=timezone.utc,
        )
    except ValueError as exc:
        raise ParseError(f"invalid datetime literal {literal!r}: {exc}", position) from None
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    return micros * 10 + int((fraction or "").ljust(7, "0"))


def _number(match: re.Match[str], position: int) -> _Token:
    text = match.group(0)
    if len(text) > 40:
        raise ParseError("number literal too long", position)
    fraction, exponent, suffix = match.groups()
    suffix = (suffix or "").lower()
    body = text[: len(text) - len(suffix)]
    if suffix in ("m", "d", "f") or fraction or exponent:
        if suffix == "l":
            raise ParseError(f"invalid integer literal {text!r}", position)
        return _Token("literal", text, position, float(body), EdmType.DOUBLE)
    return _Token("literal", text, position, int(body), EdmType.INT)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if (space := _SPACE.match(text, i)) is not None:
            i = space.end()
        elif char in "(),":
            tokens.append(_Token(char, char, i))
            i += 1
        elif char == "'":
            value, end = read_string_literal(text, i)
            tokens.append(_Token("literal", text[i:end], i, value, EdmType.STRING))
            i = end
        elif (number := _NUMBER.match(text, i)) is not None:
            end = number.end()
            if _IDENT.match(text, end) is not None or text.startswith(".", end):
                raise ParseError("invalid number literal", i)
            tokens.append(_number(number, i))
            i = end
        elif (ident := _IDENT.match(text, i)) is not None:
            token, i = _word(text, ident)
            tokens.append(token)
        elif char == "/":
            raise ParseError("path navigation with '/' is not supported", i)
        else:
            raise ParseError(f"unexpected character {char!r}", i)
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _word(text: str, ident: re.Match[str]) -> tuple[_Token, int]:
    """An identifier, keyword, constant, or typed literal such as datetime'...'.

    Returns the token and the index just after it.
    """
    word, position, end = ident.group(0), ident.start(), ident.end()
    if text.startswith("'", end):
        value, after = read_string_literal(text, end)
        if word != "datetime":
            raise ParseError(f"unsupported literal type {word!r}", position)
        ticks = _datetime_ticks(value, position)
        return _Token("literal", text[position:after], position, ticks, EdmType.DATETIME), after
    constants: dict[str, tuple[object, EdmType]] = {
        "null": (None, EdmType.NULL),
        "true": (True, EdmType.BOOL),
        "false": (False, EdmType.BOOL),
    }
    if word in constants:
        value, kind = constants[word]
        return _Token("literal", word, position, value, kind), end
    return _Token("ident", word, position), end


# ---------------------------------------------------------------- expression tree


class _Node:
    type: EdmType
    depth: int = 1

    def evaluate(self, record: Record) -> object:
        raise NotImplementedError


class _Literal(_Node):
    def __init__(self, value: object, kind: EdmType) -> None:
        self.value = value
        self.type = kind

    def evaluate(self, record: Record) -> object:
        return self.value


class _Property(_Node):
    def __init__(self, name: str, kind: EdmType) -> None:
        self.name = name
        self.type = kind

    def evaluate(self, record: Record) -> object:
        value = record.get(self.name)
        if self.type is EdmType.DATETIME and isinstance(value, int):
            return value * 10  # microseconds -> ticks, the literal's unit
        return value


def _compare(op: str, left: object, right: object) -> bool:
    if op in _EQUALITY:
        equal = left == right
        return equal if op == "eq" else not equal
    if left is None or right is None:
        return False
    try:
        if op == "gt":
            return left > right  # type: ignore[operator]
        if op == "ge":
            return left >= right  # type: ignore[operator]
        if op == "lt":
            return left < right  # type: ignore[operator]
        return left <= right  # type: ignore[operator]
    except TypeError:  # a record value of an unexpected type: no match
        return False


class _Comparison(_Node):
    type = EdmType.BOOL

    def __init__(self, op: str, left: _Node, right: _Node) -> None:
        self.op, self.left, self.right = op, left, right
        self.depth = 1 + max(left.depth, right.depth)

    def evaluate(self, record: Record) -> object:
        return _compare(self.op, self.left.evaluate(record), self.right.evaluate(record))


class _Logical(_Node):
    """n-ary and/or with three-valued logic (None = unknown)."""

    type = EdmType.BOOL

    def __init__(self, op: str, operands: list[_Node]) -> None:
        self.op, self.operands = op, operands
        self.depth = 1 + max(o.depth for o in operands)

    def evaluate(self, record: Record) -> object:
        decisive = self.op == "or"  # True decides an "or", False an "and"
        unknown = False
        for operand in self.operands:
            value = operand.evaluate(record)
            if value is None:
                unknown = True
            elif bool(value) == decisive:
                return decisive
        return None if unknown else not decisive


class _Not(_Node):
    type = EdmType.BOOL

    def __init__(self, operand: _Node) -> None:
        self.operand = operand
        self.depth = 1 + operand.depth

    def evaluate(self, record: Record) -> object:
        value = self.operand.evaluate(record)
        return None if value is None else not value


def _string_function(test: Callable[[str, str], bool]) -> Callable[[list[object]], object]:
    def call(args: list[object]) -> object:
        first, second = args
        if not isinstance(first, str) or not isinstance(second, str):
            return None
        return test(first, second)

    return call


# name -> (argument count, implementation)
_FUNCTIONS: dict[str, tuple[int, Callable[[list[object]], object]]] = {
    "startswith": (2, _string_function(str.startswith)),
    "endswith": (2, _string_function(str.endswith)),
    "substringof": (2, _string_function(lambda needle, hay: needle in hay)),
}


class _Call(_Node):
    type = EdmType.BOOL

    def __init__(self, name: str, args: list[_Node]) -> None:
        self.args = args
        self.function = _FUNCTIONS[name][1]
        self.depth = 1 + max((a.depth for a in args), default=0)

    def evaluate(self, record: Record) -> object:
        return self.function([a.evaluate(record) for a in self.args])


# ---------------------------------------------------------------- parser


class _Parser:
    def __init__(self, tokens: Sequence[_Token], properties: Mapping[str, EdmType]) -> None:
        self.tokens = tokens
        self.properties = properties
        self.index = 0
        self.nesting = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def expect(self, kind: str) -> _Token:
        token = self.take()
        if token.kind != kind:
            raise ParseError(f"expected '{kind}' but found {_describe(token)}", token.position)
        return token

    def at_keyword(self, words: frozenset[str] | set[str]) -> bool:
        return self.current.kind == "ident" and self.current.text in words

    def bounded(self, node: _Node, position: int) -> _Node:
        if node.depth > MAX_DEPTH:
            raise ParseError(f"expression nested deeper than {MAX_DEPTH}", position)
        return node

    def parse(self) -> _Node:
        node = self.parse_or()
        if self.current.kind != "end":
            token = self.current
            if token.kind == "ident" and token.text in _ARITHMETIC:
                raise ParseError(f"arithmetic operator '{token.text}' is not supported",
                                 token.position)
            raise ParseError(f"unexpected {_describe(token)}", token.position)
        _require_bool(node, "the filter", 0)
        return node

    def parse_logical(self, op: str, operand: Callable[[], _Node]) -> _Node:
        position = self.current.position
        operands = [operand()]
        while self.at_keyword({op}):
            word = self.take()
            _require_bool(operands[-1], f"the left side of '{op}'", word.position)
            operands.append(operand())
            _require_bool(operands[-1], f"the right side of '{op}'", word.position)
        if len(operands) == 1:
            return operands[0]
        return self.bounded(_Logical(op, operands), position)

    def parse_or(self) -> _Node:
        return self.parse_logical("or", self.parse_and)

    def parse_and(self) -> _Node:
        return self.parse_logical("and", self.parse_equality)

    def parse_comparisons(self, ops: frozenset[str], operand: Callable[[], _Node]) -> _Node:
        left = operand()
        while self.at_keyword(ops):
            op = self.take()
            right = operand()
            _check_comparable(op, left, right)
            left = self.bounded(_Comparison(op.text, left, right), op.position)
        return left

    def parse_equality(self) -> _Node:
        return self.parse_comparisons(_EQUALITY, self.parse_relational)

    def parse_relational(self) -> _Node:
        return self.parse_comparisons(_RELATIONAL, self.parse_unary)

    def parse_unary(self) -> _Node:
        if self.at_keyword({"not"}):
            word = self.take()
            with _Nesting(self, word.position):
                operand = self.parse_unary()
            _require_bool(operand, "the operand of 'not'", word.position)
            return self.bounded(_Not(operand), word.position)
        return self.parse_primary()

    def parse_primary(self) -> _Node:
        token = self.take()
        if token.kind == "literal":
            return _Literal(token.value, token.type or EdmType.NULL)
        if token.kind == "(":
            with _Nesting(self, token.position):
                node = self.parse_or()
            self.expect(")")
            return node
        if token.kind == "ident":
            if self.current.kind == "(":
                return self.parse_call(token)
            return self.parse_property(token)
        raise ParseError(f"expected an operand but found {_describe(token)}", token.position)

    def parse_property(self, token: _Token) -> _Node:
        if token.text in _KEYWORDS:
            raise ParseError(f"expected an operand but found '{token.text}'", token.position)
        kind = self.properties.get(token.text)
        if kind is None:
            raise ParseError(_unknown_property(token.text, self.properties), token.position)
        return _Property(token.text, kind)

    def parse_call(self, name: _Token) -> _Node:
        if name.text not in _FUNCTIONS:
            raise ParseError(f"function '{name.text}' is not supported", name.position)
        self.expect("(")
        args: list[_Node] = []
        with _Nesting(self, name.position):
            if self.current.kind != ")":
                args.append(self.parse_or())
                while self.current.kind == ",":
                    self.take()
                    args.append(self.parse_or())
        self.expect(")")
        arity = _FUNCTIONS[name.text][0]
        if len(args) != arity:
            raise ParseError(
                f"function '{name.text}' takes {arity} arguments, got {len(args)}", name.position
            )
        for arg in args:
            if arg.type not in (EdmType.STRING, EdmType.NULL):
                raise ParseError(
                    f"function '{name.text}' needs string arguments, got {arg.type.value}",
                    name.position,
                )
        return self.bounded(_Call(name.text, args), name.position)


class _Nesting:
    """Counts parser recursion (parentheses, calls, `not`) and stops it at MAX_DEPTH."""

    def __init__(self, parser: _Parser, position: int) -> None:
        self.parser, self.position = parser, position

    def __enter__(self) -> None:
        self.parser.nesting += 1
        if self.parser.nesting > MAX_DEPTH:
            raise ParseError(f"expression nested deeper than {MAX_DEPTH}", self.position)

    def __exit__(self, *exc: object) -> None:
        self.parser.nesting -= 1


def _describe(token: _Token) -> str:
    return "end of input" if token.kind == "end" else repr(token.text)


def _require_bool(node: _Node, what: str, position: int) -> None:
    if node.type is not EdmType.BOOL:
        raise ParseError(f"{what} must be a boolean expression, not {node.type.value}", position)


def _check_comparable(op: _Token, left: _Node, right: _Node) -> None:
    kinds = (left.type, right.type)
    if EdmType.NULL in kinds:
        return
    if op.text in _RELATIONAL and EdmType.BOOL in kinds:
        raise ParseError(f"'{op.text}' cannot order boolean values", op.position)
    if left.type == right.type or (left.type in _NUMERIC and right.type in _NUMERIC):
        return
    hint = ""
    if EdmType.DATETIME in kinds and EdmType.STRING in kinds:
        hint = "; write dates as datetime'2015-02-11T00:00:00'"
    raise ParseError(
        f"cannot compare {left.type.value} with {right.type.value} using '{op.text}'{hint}",
        op.position,
    )


def _unknown_property(name: str, properties: Mapping[str, EdmType]) -> str:
    message = f"unknown property '{name}'"
    matches = [p for p in properties if p.lower() == name.lower()]
    if matches:
        message += f" (property names are case-sensitive: did you mean '{matches[0]}'?)"
    return message


# ---------------------------------------------------------------- public entry


class Filter:
    """A parsed `$filter`, ready to test records."""

    def __init__(self, text: str, root: _Node) -> None:
        self.text = text
        self._root = root

    def matches(self, record: Record) -> bool:
        return self._root.evaluate(record) is True


def parse_filter(text: str, properties: Mapping[str, EdmType]) -> Filter:
    """Parse `text` against the entity's property types; raises ParseError only."""
    if len(text) > MAX_FILTER_LENGTH:
        raise ParseError(f"filter longer than {MAX_FILTER_LENGTH} characters")
    if not text.strip():
        raise ParseError("empty filter")
    try:
        return Filter(text, _Parser(_tokenize(text), properties).parse())
    except ParseError:
        raise
    except (ValueError, OverflowError, RecursionError) as exc:  # defensive: report, never crash
        raise ParseError(f"invalid filter: {exc}") from None
