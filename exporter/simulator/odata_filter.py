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

A Dialect narrows or changes that language for another service: ARM_DIALECT-style
settings (see v3_query) give the AMS v3 filters, with property paths, enum literals and
unquoted datetimes; mkio_query's gives MK.IO's (unquoted datetimes, quoted states, OData
v4's `contains`). The default dialect, ODATA_V3, is exactly the language above.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
    ENUM = "enum"  # a dialect's enum type; nodes carry the type's qualified name


@dataclass(frozen=True)
class Dialect:
    """How one service's `$filter` differs from plain OData v3 (the defaults).

    `operators`, when set, also restricts every condition to `property op literal`
    with a literal of the property's own type, joined only by and/or (no bare
    booleans, no null).
    """

    property_paths: bool = False  # names like properties/created
    case_insensitive_names: bool = False  # property names and enum type/member names
    bare_datetimes: bool = False  # unquoted 2021-06-01T00:00:10.0000000Z literals
    datetime_prefix: bool = True  # datetime'...' literals
    functions: bool = True  # string functions at all
    # Which functions, when `functions`; None: OData v3's startswith, endswith, substringof.
    function_names: frozenset[str] | None = None
    negation: bool = True  # `not`
    enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # type -> members
    enum_properties: Mapping[str, str] = field(default_factory=dict)  # property -> enum type
    operators: Mapping[str, frozenset[str]] | None = None  # property -> allowed operators


ODATA_V3 = Dialect()


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
# Dialect extras: property paths, qualified enum type names (just before a quote), and
# ISO datetimes without quotes, optionally with a UTC offset.
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*", re.ASCII)
_QUALIFIED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+(?=')", re.ASCII)
_BARE_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:\.([0-9]{1,7}))?)?(Z|[+-][0-9]{2}:[0-9]{2})?",
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
    return _ticks(match, literal, position)


def _ticks(match: re.Match[str], literal: str, position: int) -> int:
    """A matched _DATETIME or _BARE_DATETIME to ticks; no offset means UTC."""
    year, month, day, hour, minute, second, fraction = match.groups()[:7]
    offset = match.group(8) if match.re is _BARE_DATETIME else None
    shift = timedelta()
    if offset and offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        shift = sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
            tzinfo=timezone.utc,
        ) - shift
    except (ValueError, OverflowError) as exc:
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


def _tokenize(text: str, dialect: Dialect = ODATA_V3) -> list[_Token]:
    tokens: list[_Token] = []
    names = _PATH if dialect.property_paths else _IDENT
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
        elif dialect.bare_datetimes and (moment := _BARE_DATETIME.match(text, i)) is not None:
            token, i = _bare_datetime(text, moment)
            tokens.append(token)
        elif (number := _NUMBER.match(text, i)) is not None:
            end = number.end()
            if _IDENT.match(text, end) is not None or text.startswith(".", end):
                raise ParseError("invalid number literal", i)
            tokens.append(_number(number, i))
            i = end
        elif dialect.enums and (qualified := _QUALIFIED.match(text, i)) is not None:
            token, i = _enum_literal(text, qualified, dialect)
            tokens.append(token)
        elif (ident := names.match(text, i)) is not None:
            token, i = _word(text, ident, dialect)
            tokens.append(token)
        elif char == "/":
            raise ParseError("path navigation with '/' is not supported", i)
        else:
            raise ParseError(f"unexpected character {char!r}", i)
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _bare_datetime(text: str, match: re.Match[str]) -> tuple[_Token, int]:
    """An unquoted ISO datetime (dialects with bare_datetimes), e.g. 2021-06-01T00:00:10Z."""
    position, end = match.start(), match.end()
    if _IDENT.match(text, end) is not None or text.startswith((".", ":"), end):
        raise ParseError("invalid datetime literal", position)
    literal = match.group(0)
    ticks = _ticks(match, literal, position)
    return _Token("literal", literal, position, ticks, EdmType.DATETIME), end


def _enum_literal(text: str, match: re.Match[str], dialect: Dialect) -> tuple[_Token, int]:
    """`Namespace.Type'member'`: the value is the member's canonical spelling."""
    position, type_name = match.start(), match.group(0)
    member, end = read_string_literal(text, match.end())
    canonical = _lookup(type_name, dialect.enums, dialect.case_insensitive_names)
    if canonical is None:
        raise ParseError(f"unknown enum type '{type_name}'", position)
    value = _lookup(member, dict.fromkeys(dialect.enums[canonical]),
                    dialect.case_insensitive_names)
    if value is None:
        members = ", ".join(dialect.enums[canonical])
        raise ParseError(f"'{member}' is not a member of {canonical} ({members})", position)
    return _Token("literal", text[position:end], position, value, EdmType.ENUM), end


def _lookup(name: str, names: Mapping[str, object], case_insensitive: bool) -> str | None:
    """The canonical spelling of `name` among `names`, or None."""
    if name in names:
        return name
    if case_insensitive:
        folded = name.lower()
        return next((n for n in names if n.lower() == folded), None)
    return None


def _word(text: str, ident: re.Match[str], dialect: Dialect = ODATA_V3) -> tuple[_Token, int]:
    """An identifier, keyword, constant, or typed literal such as datetime'...'.

    Returns the token and the index just after it.
    """
    word, position, end = ident.group(0), ident.start(), ident.end()
    if text.startswith("'", end):
        value, after = read_string_literal(text, end)
        if word != "datetime" or not dialect.datetime_prefix:
            raise ParseError(f"unsupported literal type {word!r}", position)
        ticks = _datetime_ticks(value, position)
        return _Token("literal", text[position:after], position, ticks, EdmType.DATETIME), after
    constants: dict[str, tuple[object, EdmType]] = {
        "null": (None, EdmType.NULL),
        "true": (True, EdmType.BOOL),
        "false": (False, EdmType.BOOL),
    }
    if word in constants:
        constant, kind = constants[word]
        return _Token("literal", word, position, constant, kind), end
    return _Token("ident", word, position), end


# ---------------------------------------------------------------- expression tree


class _Node:
    type: EdmType
    depth: int = 1

    def evaluate(self, record: Record) -> object:
        raise NotImplementedError


class _Literal(_Node):
    def __init__(self, value: object, kind: EdmType, enum: str | None = None) -> None:
        self.value = value
        self.type = kind
        self.enum = enum

    def evaluate(self, record: Record) -> object:
        return self.value


class _Property(_Node):
    def __init__(self, name: str, kind: EdmType, enum: str | None = None) -> None:
        self.name = name
        self.type = kind
        self.enum = enum

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
    # OData v4 (contains(haystack, needle)); only dialects that name it in function_names.
    "contains": (2, _string_function(lambda hay, needle: needle in hay)),
}
_ODATA_V3_FUNCTIONS = frozenset({"startswith", "endswith", "substringof"})


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
    def __init__(
        self,
        tokens: Sequence[_Token],
        properties: Mapping[str, EdmType],
        dialect: Dialect = ODATA_V3,
    ) -> None:
        self.tokens = tokens
        self.properties = properties
        self.dialect = dialect
        self.index = 0
        self.nesting = 0
        self.used: set[str] = set()  # property names the filter reads

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
        if self.dialect.operators is not None:
            _require_conditions(node)
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
            if self.dialect.operators is not None:
                _check_condition(op, left, right, self.dialect.operators)
            left = self.bounded(_Comparison(op.text, left, right), op.position)
        return left

    def parse_equality(self) -> _Node:
        return self.parse_comparisons(_EQUALITY, self.parse_relational)

    def parse_relational(self) -> _Node:
        return self.parse_comparisons(_RELATIONAL, self.parse_unary)

    def parse_unary(self) -> _Node:
        if self.at_keyword({"not"}):
            word = self.take()
            if not self.dialect.negation:
                raise ParseError("'not' is not supported", word.position)
            with _Nesting(self, word.position):
                operand = self.parse_unary()
            _require_bool(operand, "the operand of 'not'", word.position)
            return self.bounded(_Not(operand), word.position)
        return self.parse_primary()

    def parse_primary(self) -> _Node:
        token = self.take()
        if token.kind == "literal":
            enum = None
            if token.type is EdmType.ENUM:  # the text is Type'member'
                enum = _lookup(token.text[: token.text.index("'")], self.dialect.enums,
                               self.dialect.case_insensitive_names)
            return _Literal(token.value, token.type or EdmType.NULL, enum)
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
        dialect = self.dialect
        name = _lookup(token.text, self.properties, dialect.case_insensitive_names)
        if name is None:
            message = _unknown_property(token.text, self.properties)
            if dialect.case_insensitive_names:
                message = f"unknown property '{token.text}' (known: {', '.join(self.properties)})"
            raise ParseError(message, token.position)
        self.used.add(name)
        return _Property(name, self.properties[name], dialect.enum_properties.get(name))

    def parse_call(self, name: _Token) -> _Node:
        allowed = self.dialect.function_names
        if allowed is None:
            allowed = _ODATA_V3_FUNCTIONS
        if not self.dialect.functions or name.text not in allowed or name.text not in _FUNCTIONS:
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


def _type_name(node: _Node) -> str:
    return getattr(node, "enum", None) or node.type.value


def _check_comparable(op: _Token, left: _Node, right: _Node) -> None:
    kinds = (left.type, right.type)
    if EdmType.NULL in kinds:
        return
    if EdmType.ENUM in kinds:
        if _type_name(left) != _type_name(right):
            raise ParseError(
                f"cannot compare {_type_name(left)} with {_type_name(right)}", op.position
            )
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


def _check_condition(
    op: _Token, left: _Node, right: _Node, operators: Mapping[str, frozenset[str]]
) -> None:
    """Restricted dialects: `property op literal`, the operator allowed for the property."""
    if not isinstance(left, _Property) or not isinstance(right, _Literal):
        raise ParseError(f"'{op.text}' must compare a property with a literal", op.position)
    allowed = operators.get(left.name, frozenset())
    if op.text not in allowed:
        usable = ", ".join(sorted(allowed)) or "none"
        raise ParseError(
            f"operator '{op.text}' is not supported for '{left.name}' (supported: {usable})",
            op.position,
        )
    if right.type is not left.type or _type_name(right) != _type_name(left):
        raise ParseError(
            f"'{left.name}' is compared with a {_type_name(right)} literal; "
            f"it needs a {_type_name(left)} one",
            op.position,
        )


def _require_conditions(node: _Node) -> None:
    """Restricted dialects: only comparisons joined by and/or (depth is already bounded)."""
    if isinstance(node, _Logical):
        for operand in node.operands:
            _require_conditions(operand)
    elif not isinstance(node, _Comparison):
        raise ParseError("the filter must be comparisons joined by 'and'/'or'")


def _unknown_property(name: str, properties: Mapping[str, EdmType]) -> str:
    message = f"unknown property '{name}'"
    matches = [p for p in properties if p.lower() == name.lower()]
    if matches:
        message += f" (property names are case-sensitive: did you mean '{matches[0]}'?)"
    return message


# ---------------------------------------------------------------- public entry


class Filter:
    """A parsed `$filter`, ready to test records; `properties` are the names it reads."""

    def __init__(self, text: str, root: _Node, properties: frozenset[str] = frozenset()) -> None:
        self.text = text
        self._root = root
        self.properties = properties

    def matches(self, record: Record) -> bool:
        return self._root.evaluate(record) is True


def parse_filter(
    text: str, properties: Mapping[str, EdmType], dialect: Dialect = ODATA_V3
) -> Filter:
    """Parse `text` against the entity's property types; raises ParseError only."""
    if len(text) > MAX_FILTER_LENGTH:
        raise ParseError(f"filter longer than {MAX_FILTER_LENGTH} characters")
    if not text.strip():
        raise ParseError("empty filter")
    try:
        parser = _Parser(_tokenize(text, dialect), properties, dialect)
        root = parser.parse()
        return Filter(text, root, frozenset(parser.used))
    except ParseError:
        raise
    except (ValueError, OverflowError, RecursionError) as exc:  # defensive: report, never crash
        raise ParseError(f"invalid filter: {exc}") from None
