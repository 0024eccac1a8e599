"""Every SQL statement the project runs is a constant, or composed with psycopg.sql from
constants and identifiers: values travel only as parameters, never inside the text.

The check reads the code (ast): the first argument of every `execute`, `executemany`,
`copy` and of any function that passes its own argument on to one of them (such as a
unit of work's `_rows`) must be a string literal, a name bound only to such (or to a
table of such), or a psycopg.sql composition; an f-string, `%`, `+` or `str.format` on
SQL fails it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SKIP = {".venv", ".git", ".local", "build", "node_modules"}
SQL_CALLS = {"execute", "executemany", "copy"}
COMPOSERS = {"SQL", "Identifier", "Literal", "Placeholder", "Composed"}  # psycopg.sql


def _sources() -> Iterator[Path]:
    for path in sorted(REPO.rglob("*.py")):
        if not SKIP & set(path.relative_to(REPO).parts):
            yield path


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _own_calls(node: ast.AST) -> Iterator[ast.Call]:
    """The calls in a function's (or the module's) own body, not in functions within it
    (those are checked in their own scope)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(child, ast.Call):
            yield child
        yield from _own_calls(child)


def _is_composer(node: ast.expr) -> bool:
    """`sql.SQL(...)`, `psycopg.sql.Identifier(...)`, `SQL(...)`, ..."""
    return isinstance(node, ast.Call) and _callee(node) in COMPOSERS


class _Function:
    def __init__(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Module) -> None:
        self.node = node
        self.params = ([a.arg for a in node.args.posonlyargs + node.args.args]
                       if not isinstance(node, ast.Module) else [])
        self.assigned: dict[str, list[ast.expr]] = {}
        for inner in ast.walk(node):
            if isinstance(inner, ast.Assign):
                for target in inner.targets:
                    if isinstance(target, ast.Name):
                        self.assigned.setdefault(target.id, []).append(inner.value)
            elif isinstance(inner, ast.AnnAssign | ast.AugAssign) and isinstance(
                    inner.target, ast.Name) and inner.value is not None:
                # `x += ...` builds text: count it as unsafe unless the value is constant
                self.assigned.setdefault(inner.target.id, []).append(
                    inner.value if isinstance(inner, ast.AnnAssign)
                    else ast.BinOp(ast.Name(inner.target.id), inner.op, inner.value))


def _problem(node: ast.expr, scope: _Function, module: _Function,
             wrappers: dict[str, int], seen: frozenset[str] = frozenset()) -> str | None:
    """Why `node`, used as SQL text, is not safe; None when it is."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return None
    if isinstance(node, ast.JoinedStr):
        return "f-string"
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Mod):
            return "% formatting"
        if isinstance(node.op, ast.Add):
            left = _problem(node.left, scope, module, wrappers, seen)
            right = _problem(node.right, scope, module, wrappers, seen)
            return "+ concatenation" if left or right else None
        return "an expression"
    if isinstance(node, ast.Call):
        if _is_composer(node):
            # sql.SQL's text is taken as it is: it must be constant in its turn;
            # Identifier and Literal quote whatever they are given
            if _callee(node) == "SQL" and node.args:
                return _problem(node.args[0], scope, module, wrappers, seen)
            return None
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join"):
            if _composes(node.func.value, scope, module) and _problem(
                    node.func.value, scope, module, wrappers, seen) is None:
                return None  # sql.SQL("... {} ...").format(...), sql.SQL(", ").join(...)
            return f"str.{node.func.attr}"
        return "the result of a call"
    if isinstance(node, ast.Name):
        if node.id in seen:
            return None
        if node.id in scope.params:
            return f"parameter {node.id}"  # the caller's argument is checked instead
        values = scope.assigned.get(node.id) or module.assigned.get(node.id)
        if not values:
            return f"unknown name {node.id}"
        for value in values:
            why = _problem(value, scope, module, wrappers, seen | {node.id})
            if why:
                return f"{node.id} is built with {why}"
        return None
    if isinstance(node, ast.Subscript):  # an entry of a table of statements
        return _problem(node.value, scope, module, wrappers, seen)
    if isinstance(node, ast.Dict | ast.List | ast.Tuple):
        entries = node.values if isinstance(node, ast.Dict) else node.elts
        for entry in entries:
            why = _problem(entry, scope, module, wrappers, seen)
            if why:
                return why
        return None
    if isinstance(node, ast.Attribute):
        return None if node.attr.isupper() else "an attribute"  # a module's CONSTANT
    return type(node).__name__


def _composes(node: ast.expr, scope: _Function, module: _Function) -> bool:
    """A name bound only to psycopg.sql compositions."""
    if _is_composer(node):
        return True
    if isinstance(node, ast.Name):
        values = scope.assigned.get(node.id) or module.assigned.get(node.id) or []
        return bool(values) and all(_composes(v, scope, module) for v in values)
    return False


def sql_problems(source: str, name: str = "<source>") -> list[str]:
    """Every SQL call in `source` whose text is not safe, as 'name:line: why'."""
    tree = ast.parse(source)
    module = _Function(tree)
    functions = [_Function(n) for n in ast.walk(tree)
                 if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    wrappers: dict[str, int] = {}  # function name -> index of its SQL parameter
    problems: list[str] = []
    changed = True
    while changed:  # find wrappers first: a function passing a parameter on as SQL
        changed = False
        for fn in functions:
            for call in _own_calls(fn.node):
                if _callee(call) in SQL_CALLS | set(wrappers) and call.args:
                    arg = call.args[0]
                    if isinstance(arg, ast.Name) and arg.id in fn.params:
                        index = fn.params.index(arg.id) - (1 if fn.params[0] == "self" else 0)
                        if wrappers.get(fn.node.name) != index:
                            wrappers[fn.node.name] = index
                            changed = True
    for fn in [*functions, module]:
        for call in _own_calls(fn.node):
            callee = _callee(call)
            if callee in SQL_CALLS:
                index = 0
            elif callee in wrappers:
                index = wrappers[callee]
            else:
                continue
            args = call.args or [k.value for k in call.keywords if k.arg in ("query", "sql")]
            if len(args) <= index:
                continue
            arg = args[index]
            if isinstance(arg, ast.Name) and arg.id in fn.params:
                continue  # a wrapper: its callers are checked
            why = _problem(arg, fn, module, wrappers)
            if why:
                problems.append(f"{name}:{call.lineno}: SQL text from {why}")
    return sorted(set(problems))


def test_no_sql_text_is_built_from_values():
    problems = []
    checked = 0
    for path in _sources():
        source = path.read_text(encoding="utf-8")
        checked += 1
        problems += sql_problems(source, str(path.relative_to(REPO)))
    assert checked > 20
    assert problems == []


BAD = {
    "f-string": 'def f(conn, t):\n    conn.execute(f"SELECT * FROM {t}")\n',
    "% formatting": 'def f(conn, t):\n    conn.execute("SELECT %s" % t)\n',
    "str.format": 'def f(conn, t):\n    conn.execute("SELECT {}".format(t))\n',
    "+ concatenation": 'def f(conn, t):\n    conn.execute("SELECT " + t)\n',
    "variable built with an f-string": (
        'def f(conn, t):\n    q = f"DELETE FROM x WHERE id = {t}"\n    conn.execute(q)\n'),
    "through a wrapper": (
        'class U:\n    def _rows(self, sql, params):\n'
        '        return self.conn.execute(sql, params)\n'
        '    def g(self, t):\n        return self._rows(f"SELECT {t}", ())\n'),
    "LISTEN with an f-string": 'def f(conn):\n    conn.execute(f"LISTEN {CHANNEL}")\n',
    "psycopg.sql.SQL of an f-string": (
        'from psycopg import sql\ndef f(conn, t):\n    conn.execute(sql.SQL(f"DROP TABLE {t}"))\n'),
    "psycopg.sql.SQL of an f-string, formatted": (
        'from psycopg import sql\ndef f(conn, t, c):\n'
        '    conn.execute(sql.SQL(f"DROP TABLE {t} {{}}").format(sql.Identifier(c)))\n'),
    "an entry of a table holding an f-string": (
        'def f(conn, t):\n    qs = {"a": f"DROP TABLE {t}"}\n    conn.execute(qs["a"])\n'),
}

GOOD = {
    "constant with parameters": 'def f(conn, t):\n    conn.execute("SELECT %s", (t,))\n',
    "implicit concatenation": 'def f(conn):\n    conn.execute("SELECT 1 "\n "FROM x")\n',
    "psycopg.sql composition": (
        'from psycopg import sql\ndef f(conn, role):\n'
        '    conn.execute(sql.SQL("GRANT r TO {}").format(sql.Identifier(role)))\n'),
    "composed variable": (
        'from psycopg import sql\ndef f(conn, c):\n'
        '    q = sql.SQL("LISTEN {}").format(sql.Identifier(c))\n    conn.execute(q)\n'),
    "wrapper called with a constant": (
        'class U:\n    def _rows(self, sql, params):\n'
        '        return self.conn.execute(sql, params)\n'
        '    def g(self, t):\n        return self._rows("SELECT %s", (t,))\n'),
    "module constant": 'Q = "SELECT 1"\ndef f(conn):\n    conn.execute(Q)\n',
    "an entry of a table of constants": (
        'QS = {"a": "DROP TABLE x", "b": "TRUNCATE y"}\n'
        'def f(conn, k):\n    conn.execute(QS[k])\n'),
}


@pytest.mark.parametrize("name", BAD)
def test_the_check_finds_sql_built_from_values(name):
    assert sql_problems(BAD[name]), name


@pytest.mark.parametrize("name", GOOD)
def test_the_check_accepts_constants_parameters_and_psycopg_sql(name):
    assert sql_problems(GOOD[name]) == [], name
