"""A compiled segment condition evaluated over the in-memory frame (engine.segments.frame).

It reads the very SQLAlchemy expression that the SQL count and the launch run, not the segment
definition, so there is one meaning of every criterion and no second set of kinds to keep in
step. Column tests become numpy operations on the frame; `id IN (subquery)` (tags, usage
totals, message history) runs the subquery alone, which its index serves, and marks the ids it
returns; whatever else the evaluator does not know (JSON attributes, ordering of text under a
collation) is asked of the database as `SELECT id FROM subscribers WHERE <that part>`.

SQL's three-valued logic is kept: each condition evaluates to (true, null) masks, so NOT, OR
and NOT IN give what the database gives when a column is empty."""

from __future__ import annotations

import operator
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Select, func, not_, select
from sqlalchemy.sql import elements, functions, operators, selectable

from engage.engine.segments.frame import FrameColumn, SubscriberFrame, to_number
from engage.engine.store.schema import Subscriber

TABLE = Subscriber.__table__
_COMPARE = {operators.eq: operator.eq, operators.ne: operator.ne, operators.lt: operator.lt,
            operators.le: operator.le, operators.gt: operator.gt, operators.ge: operator.ge}
_ARITHMETIC = {operators.add: np.add, operators.sub: np.subtract, operators.mul: np.multiply,
               operators.mod: np.mod}


class Unsupported(Exception):
    """This part of the expression is asked of the database instead."""


class CountOutOfTime(Exception):
    """The evaluation passed its deadline (the count's time budget)."""


@dataclass
class Truth:
    """A condition's value per subscriber: true where `true`, unknown (SQL NULL) where `null`."""

    true: np.ndarray
    null: np.ndarray

    @property
    def false(self) -> np.ndarray:
        return ~(self.true | self.null)


@dataclass
class Value:
    """A scalar expression's value: an array per subscriber (or a constant) and where it is NULL."""

    data: Any
    null: np.ndarray | bool
    column: FrameColumn | None = None  # set when it is a frame column as stored (text: codes)


class Evaluator:
    def __init__(self, frame: SubscriberFrame, conn: Connection, deadline: float | None = None) -> None:
        self.frame = frame
        self.conn = conn
        self.deadline = deadline  # time.monotonic(): checked at every part, the database's parts bounded apart
        self.size = len(frame)
        self.asked = 0  # parts asked of the database, for the figures

    def matches(self, condition: Any) -> np.ndarray:
        """The subscribers for whom the condition holds (as WHERE would select them)."""
        return self.truth(condition, exact_null=False).true

    def truth(self, node: Any, exact_null: bool) -> Truth:
        """`exact_null`: whether NULL and false must be told apart (under a NOT); when not, a part
        asked of the database costs one query instead of two."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise CountOutOfTime
        try:
            return self._truth(node, exact_null)
        except Unsupported:
            return self._ask(node, exact_null)

    def _truth(self, node: Any, exact_null: bool) -> Truth:
        if isinstance(node, elements.Grouping):
            return self.truth(node.element, exact_null)
        if isinstance(node, elements.True_):
            return self._constant(True)
        if isinstance(node, elements.False_):
            return self._constant(False)
        if isinstance(node, elements.BooleanClauseList):
            parts = [self.truth(c, exact_null) for c in node.clauses]
            if node.operator is operators.and_:
                return _and(parts)
            if node.operator is operators.or_:
                return _or(parts)
            raise Unsupported(node)
        if isinstance(node, elements.AsBoolean | elements.UnaryExpression) and node.operator in (
                operators.is_false, operators.inv):
            inner = self.truth(node.element, exact_null=True)
            return Truth(inner.false, inner.null)
        if isinstance(node, elements.AsBoolean) and node.operator is operators.is_true:
            return self.truth(node.element, exact_null)
        if isinstance(node, functions.coalesce):
            return self._coalesce(node, exact_null)
        if isinstance(node, elements.BinaryExpression):
            return self._binary(node)
        raise Unsupported(node)

    def _constant(self, value: bool) -> Truth:
        return Truth(np.full(self.size, value), np.zeros(self.size, dtype=bool))

    def _unknown(self) -> Truth:
        """A comparison with NULL: unknown for everyone."""
        return Truth(np.zeros(self.size, dtype=bool), np.ones(self.size, dtype=bool))

    def _coalesce(self, node: functions.coalesce, exact_null: bool) -> Truth:
        clauses = list(node.clauses)
        if len(clauses) != 2 or not isinstance(clauses[1], elements.False_):
            raise Unsupported(node)
        inner = self.truth(clauses[0], exact_null=False)
        return Truth(inner.true, np.zeros(self.size, dtype=bool))

    def _binary(self, node: elements.BinaryExpression) -> Truth:
        op = node.operator
        if op in (operators.in_op, operators.not_in_op):
            found = self._in(node.left, node.right)
            return found if op is operators.in_op else Truth(found.false, found.null)
        if op in (operators.is_, operators.is_not):
            if not isinstance(node.right, elements.Null):
                raise Unsupported(node)
            left = self.value(node.left)
            null = np.broadcast_to(left.null, (self.size,))
            return Truth(null.copy() if op is operators.is_ else ~null, np.zeros(self.size, dtype=bool))
        if op is operators.between_op:
            low, high = node.right.clauses
            left = self.value(node.left)
            return _and([self._compare(left, operators.ge, self.value(low)),
                         self._compare(left, operators.le, self.value(high))])
        if op in _COMPARE:
            special = self._text_function(node)
            if special is not None:
                return special
            return self._compare(self.value(node.left), op, self.value(node.right))
        raise Unsupported(node)

    def value(self, node: Any) -> Value:
        if isinstance(node, elements.Grouping):
            return self.value(node.element)
        if isinstance(node, elements.ColumnClause) and node.table is not None and node.table.name == TABLE.name:
            return self._column(node.name)
        if isinstance(node, elements.BindParameter) and not node.expanding:
            return Value(node.effective_value, node.effective_value is None)
        if isinstance(node, elements.BinaryExpression) and node.operator in _ARITHMETIC:
            left, right = self.value(node.left), self.value(node.right)
            if (left.column is not None and left.column.kind not in ("int", "float")) or \
                    (right.column is not None and right.column.kind not in ("int", "float")):
                raise Unsupported(node)
            return Value(_ARITHMETIC[node.operator](left.data, right.data), left.null | right.null)
        if isinstance(node, functions.FunctionElement) and node.name == "birthday_key":
            (birth,) = list(node.clauses)
            column = self.value(birth)
            if column.column is None or column.column.kind != "date":
                raise Unsupported(node)
            return Value(self._birthday_keys(birth.name), column.null)
        raise Unsupported(node)

    def _column(self, name: str) -> Value:
        if name == "id":
            return Value(self.frame.ids, np.zeros(self.size, dtype=bool))
        column = self.frame.columns.get(name)
        if column is None:
            raise Unsupported(name)
        return Value(column.values, column.null, column)

    def _compare(self, left: Value, op: Any, right: Value) -> Truth:
        if right.column is not None and left.column is None:  # constant op column: turn it round
            flipped = {operators.lt: operators.gt, operators.le: operators.ge,
                       operators.gt: operators.lt, operators.ge: operators.le}.get(op, op)
            return self._compare(right, flipped, left)
        null = np.broadcast_to(np.asarray(left.null) | np.asarray(right.null), (self.size,))
        if left.column is not None and left.column.kind == "text":
            if right.column is not None or op not in (operators.eq, operators.ne):
                raise Unsupported(op)  # text order follows the database's collation
            if right.data is None:
                return self._unknown()
            codes = left.column.codes_of([right.data])
            hit = left.data == (codes[0] if len(codes) else -2)
            result = hit if op is operators.eq else ~hit
            return Truth(result & ~null, null.copy())
        kind = left.column.kind if left.column is not None else None
        constant = to_number(kind, right.data) if kind is not None and right.column is None else right.data
        if constant is None:
            return self._unknown()
        result = _COMPARE[op](left.data, float(constant) if kind == "float" else constant)
        return Truth(np.broadcast_to(result, (self.size,)) & ~null, null.copy())

    def _text_function(self, node: elements.BinaryExpression) -> Truth | None:
        """substr(column, 1, n) = v (starts with) and text_position(column, v) > 0 (contains)."""
        left, op = node.left, node.operator
        if not isinstance(left, functions.FunctionElement) or left.name not in ("substr", "text_position"):
            return None
        args = list(left.clauses)
        column = self.value(args[0])
        if column.column is None or column.column.kind != "text":
            raise Unsupported(node)
        categories = pd.Series(column.column.categories, dtype=object)
        if left.name == "substr" and op is operators.eq and len(args) == 3:
            wanted = self.value(node.right).data
            start, length = self.value(args[1]).data, self.value(args[2]).data
            if start != 1 or not isinstance(wanted, str) or length != len(wanted):
                raise Unsupported(node)
            table = categories.str.startswith(wanted).to_numpy(dtype=bool)
        elif left.name == "text_position" and op is operators.gt and self.value(node.right).data == 0:
            needle = self.value(args[1]).data
            if not isinstance(needle, str):
                raise Unsupported(node)
            table = categories.str.contains(needle, regex=False).to_numpy(dtype=bool)
        else:
            raise Unsupported(node)
        hit = np.append(table, False)[column.data]  # code -1 (NULL) reads the appended False
        return Truth(hit & ~column.null, column.null.copy())

    def _in(self, left_node: Any, right: Any) -> Truth:
        left = self.value(left_node)
        if isinstance(right, elements.BindParameter) and right.expanding:
            values = list(right.effective_value or [])
        elif isinstance(right, selectable.ScalarSelect | selectable.Select):
            values = column_values(self.conn, right.element if isinstance(right, selectable.ScalarSelect) else right)
            self.asked += 1
        else:
            raise Unsupported(right)
        null_member = None in values
        if null_member:
            values = [v for v in values if v is not None]
        if not values and not null_member:  # x IN () is false, whatever x
            return self._constant(False)
        hit = self._members(left, values)
        null = np.asarray(left.null) | ~hit if null_member else np.asarray(left.null)
        if not null.any():  # ids, and columns with no empty value: no NULL to carry
            return Truth(hit, np.zeros(self.size, dtype=bool))
        null = np.broadcast_to(null, (self.size,))
        return Truth(hit & ~null, null.copy())

    def _members(self, left: Value, values: list[Any]) -> np.ndarray:
        if left.column is None and left.data is self.frame.ids:
            return self.frame.mask_of(values)
        if left.column is None:
            raise Unsupported(left)
        if left.column.kind == "text":
            return left.column.holding(values)
        numbers = [to_number(left.column.kind, v) for v in values]
        if left.column.kind == "float":
            numbers = [float(n) for n in numbers]
        return np.isin(left.data, np.asarray(numbers))

    def _birthday_keys(self, name: str) -> np.ndarray:
        cached = self.frame.derived.get(("birthday", name))
        if cached is None:
            column = self.frame.columns[name]
            days = column.values.astype("datetime64[D]")
            months = days.astype("datetime64[M]")
            month = months.astype(np.int64) % 12 + 1
            day = (days - months).astype(np.int64) + 1
            cached = self.frame.derived[("birthday", name)] = month * 100 + day
        return cached

    def _ask(self, node: Any, exact_null: bool) -> Truth:
        """The part as the database answers it: ids where it holds (and, under a NOT, where its
        opposite holds, the rest being NULL)."""
        self.asked += 1
        true = self.frame.mask_of(column_values(self.conn, select(TABLE.c.id).where(node)))
        if not exact_null:
            return Truth(true, np.zeros(self.size, dtype=bool))
        self.asked += 1
        false = self.frame.mask_of(column_values(self.conn, select(TABLE.c.id).where(not_(node))))
        return Truth(true, ~(true | false))


def column_values(conn: Connection, query: Select) -> list[Any]:
    """The one column a query selects. On PostgreSQL as one array (array_agg): tens of thousands of
    ids then cost milliseconds instead of a result row each."""
    if conn.dialect.name != "postgresql":
        return conn.execute(query).scalars().all()
    inner = query.subquery()
    return conn.execute(select(func.array_agg(inner.c[0]))).scalar() or []


def _and(parts: list[Truth]) -> Truth:
    true, false = parts[0].true.copy(), parts[0].false
    for p in parts[1:]:
        true &= p.true
        false = false | p.false
    return Truth(true, ~(true | false))


def _or(parts: list[Truth]) -> Truth:
    true, false = parts[0].true.copy(), parts[0].false
    for p in parts[1:]:
        true |= p.true
        false = false & p.false
    return Truth(true, ~(true | false))
