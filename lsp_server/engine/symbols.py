"""The function, method or class at a position, with the ranges docstrings and tests need.

    symbol_at(text, offset, language) -> Symbol | None
    symbols_in(text, language) -> list[Symbol]
    has_syntax_errors(text, language) -> bool
    code_tokens(text, language) -> list[str]      # leaf tokens without comments (for "code unchanged" checks)

Python, JavaScript, TypeScript (and TSX), Go, Rust and Java are parsed with tree-sitter;
any other language falls back to an indentation heuristic (kind "block"). All offsets are
`str` indices into `text`; tree-sitter's byte offsets are converted here, once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

LANGUAGE_IDS = {
    "python": "python", "javascript": "javascript", "javascriptreact": "javascript", "js": "javascript",
    "typescript": "typescript", "ts": "typescript", "typescriptreact": "tsx", "tsx": "tsx",
    "go": "go", "rust": "rust", "java": "java",
}
SUFFIX_LANGUAGES = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".jsx": "javascript", ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".rs": "rust", ".java": "java",
}

# Declaration node types and what they are.
_DEFINITIONS = {
    "python": {"function_definition": "function", "class_definition": "class"},
    "javascript": {
        "function_declaration": "function", "generator_function_declaration": "function",
        "method_definition": "method", "class_declaration": "class", "arrow_function": "function",
        "function_expression": "function",
    },
    "go": {"function_declaration": "function", "method_declaration": "method", "type_spec": "class"},
    "rust": {
        "function_item": "function", "function_signature_item": "function", "struct_item": "class",
        "enum_item": "class", "trait_item": "class", "impl_item": "class",
    },
    "java": {
        "method_declaration": "method", "constructor_declaration": "method", "class_declaration": "class",
        "interface_declaration": "class", "enum_declaration": "class", "record_declaration": "class",
    },
}
_DEFINITIONS["typescript"] = {
    **_DEFINITIONS["javascript"], "function_signature": "function", "abstract_class_declaration": "class",
    "interface_declaration": "class", "method_signature": "method", "abstract_method_signature": "method",
}
_DEFINITIONS["tsx"] = _DEFINITIONS["typescript"]

# Nodes that wrap a declaration and own the lines above it (decorators, export, const f = ...).
_WRAPPERS = {
    "python": {"decorated_definition"},
    "javascript": {"export_statement", "variable_declarator", "lexical_declaration", "variable_declaration"},
    "go": {"type_declaration"},
    "rust": set(),
    "java": set(),
}
_WRAPPERS["typescript"] = _WRAPPERS["tsx"] = _WRAPPERS["javascript"]
# Sibling nodes right above a declaration that belong to it.
_LEADING_SIBLINGS = {"decorator", "attribute_item"}
_CLASS_BODIES = {"class_body", "declaration_list", "block"}  # "block" only counts under a Python class
_COMMENTS = {"comment", "line_comment", "block_comment"}


@dataclass(frozen=True)
class Symbol:
    kind: str  # "function" | "method" | "class" | "block" (indentation fallback)
    name: str
    language: str
    start: int  # whole declaration, decorators/attributes/export included
    end: int
    decl_start: int  # first character of the declaration itself (`def`, `func`, `pub fn`, modifiers)
    header_end: int  # Python: just after the ':'; brace languages: where the body starts
    body_start: int
    body_end: int
    doc: tuple[int, int] | None  # existing docstring statement / doc comment block (whole lines for comments)
    indent: str  # leading whitespace of the line `start` is on
    params: tuple[str, ...] = ()
    returns: bool = False
    yields: bool = False  # a generator: the docstring says what it yields
    raises: tuple[str, ...] = ()
    return_type: str = ""
    start_line: int = 0  # 0-based lines of start .. end
    end_line: int = 0

    def text(self, source: str) -> str:
        return source[self.start : self.end]


def language_of(language_id_or_path: str) -> str | None:
    """Our grammar name for an LSP languageId or a file path; None when we have no grammar."""
    key = language_id_or_path.lower()
    if key in LANGUAGE_IDS:
        return LANGUAGE_IDS[key]
    match = re.search(r"\.[a-z0-9]+$", key)
    return SUFFIX_LANGUAGES.get(match.group(0)) if match else None


@functools.lru_cache(maxsize=None)
def _parser(language: str):
    import tree_sitter

    if language == "python":
        import tree_sitter_python as grammar

        handle = grammar.language()
    elif language == "javascript":
        import tree_sitter_javascript as grammar

        handle = grammar.language()
    elif language in ("typescript", "tsx"):
        import tree_sitter_typescript as grammar

        handle = grammar.language_typescript() if language == "typescript" else grammar.language_tsx()
    elif language == "go":
        import tree_sitter_go as grammar

        handle = grammar.language()
    elif language == "rust":
        import tree_sitter_rust as grammar

        handle = grammar.language()
    elif language == "java":
        import tree_sitter_java as grammar

        handle = grammar.language()
    else:
        raise ValueError(f"no tree-sitter grammar for '{language}'.")
    return tree_sitter.Parser(tree_sitter.Language(handle))


class _Source:
    """Text with its UTF-8 bytes, converting tree-sitter byte offsets to str offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.data = text.encode("utf-8", "surrogatepass")
        self._ascii = len(self.data) == len(text)

    def char(self, byte_offset: int) -> int:
        if self._ascii:
            return byte_offset
        return len(self.data[:byte_offset].decode("utf-8", "surrogatepass"))

    def byte(self, char_offset: int) -> int:
        if self._ascii:
            return char_offset
        return len(self.text[:char_offset].encode("utf-8", "surrogatepass"))

    def node_text(self, node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "surrogatepass")


def parse(text: str, language: str):
    """The tree-sitter tree of `text` (language: one of our grammar names)."""
    return _parser(language).parse(text.encode("utf-8", "surrogatepass"))


def has_syntax_errors(text: str, language: str) -> bool:
    if language_of(language) is None:
        return False
    return parse(text, language_of(language)).root_node.has_error


def first_syntax_error(text: str, language: str) -> tuple[int, int] | None:
    """(0-based line, column) of the first ERROR or MISSING node, or None."""
    grammar = language_of(language)
    if grammar is None:
        return None
    stack = [parse(text, grammar).root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            return node.start_point.row, node.start_point.column
        if node.has_error:
            stack.extend(reversed(node.children))
    return None


def code_tokens(text: str, language: str) -> list[str]:
    """The leaf tokens of the code, comments left out: equal lists mean the code is unchanged."""
    source = _Source(text)
    tokens: list[str] = []
    stack = [parse(text, language).root_node]
    while stack:
        node = stack.pop()
        if node.type in _COMMENTS:
            continue
        if node.child_count == 0:
            tokens.append(source.node_text(node))
        stack.extend(reversed(node.children))
    return tokens


# -- symbol lookup -------------------------------------------------------------


def symbols_in(text: str, language: str) -> list[Symbol]:
    """Every function, method and class in `text`, in document order."""
    grammar = language_of(language)
    if grammar is None:
        return []
    source = _Source(text)
    found = [_symbol(node, source, grammar) for node in _definitions(parse(text, grammar).root_node, grammar)]
    return sorted((symbol for symbol in found if symbol is not None), key=lambda symbol: symbol.decl_start)


def symbol_at(text: str, offset: int, language: str) -> Symbol | None:
    """The innermost function, method or class whose lines hold `offset` (decorators and
    doc comments count as its lines); the indentation fallback for other languages."""
    grammar = language_of(language)
    if grammar is None:
        return indentation_symbol(text, offset, language)
    source = _Source(text)
    line = text.count("\n", 0, offset)
    best = None
    for node in _definitions(parse(text, grammar).root_node, grammar):
        symbol = _symbol(node, source, grammar)
        if symbol is None:
            continue
        doc_line = text.count("\n", 0, symbol.doc[0]) if symbol.doc and symbol.doc[0] < symbol.start else symbol.start_line
        if doc_line <= line <= symbol.end_line and (best is None or symbol.decl_start >= best.decl_start):
            best = symbol
    return best


def _definitions(root, grammar: str) -> Iterator:
    kinds = _DEFINITIONS[grammar]
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in kinds and _is_named_definition(node, grammar):
            yield node
        stack.extend(reversed(node.named_children))


def _is_named_definition(node, grammar: str) -> bool:
    """Arrow functions and function expressions count only when bound to a name."""
    if node.type in ("arrow_function", "function_expression"):
        parent = node.parent
        return parent is not None and parent.type == "variable_declarator"
    return True


def _symbol(node, source: _Source, grammar: str) -> Symbol | None:
    text = source.text
    kinds = _DEFINITIONS[grammar]
    outer = _outer(node, grammar)
    body = node.child_by_field_name("body")
    if grammar == "go" and node.type == "type_spec":
        body = node.child_by_field_name("type")
    if body is None and node.type not in ("function_signature_item", "function_signature", "method_signature",
                                          "abstract_method_signature", "struct_item"):
        return None
    name = _name(node, source)
    kind = kinds[node.type]
    if kind == "function" and _in_class(node, grammar):
        kind = "method"
    start = source.char(_leading_start(outer).start_byte)
    line_start = text.rfind("\n", 0, start) + 1
    indent = re.match(r"[ \t]*", text[line_start:start]).group(0)
    decl_start = source.char((node.parent if grammar == "go" and node.type == "type_spec" else node).start_byte)
    end = source.char(outer.end_byte)
    if body is None:
        body_start = body_end = header_end = source.char(node.end_byte)
    else:
        body_start, body_end = source.char(body.start_byte), source.char(body.end_byte)
        header_end = body_start
        if grammar == "python":
            colon = next((child for child in node.children if child.type == ":"), None)
            header_end = source.char(colon.end_byte) if colon is not None else body_start
    if grammar == "python":
        doc = _python_docstring(body, source)
    else:
        doc = _doc_comment(outer, source, grammar)
    facts = _facts(node, body, source, grammar, kind)
    return Symbol(
        kind=kind, name=name, language=grammar, start=start, end=end, decl_start=decl_start,
        header_end=header_end, body_start=body_start, body_end=body_end, doc=doc, indent=indent,
        params=facts[0], returns=facts[1], raises=facts[2], return_type=facts[3], yields=facts[4],
        start_line=text.count("\n", 0, start), end_line=text.count("\n", 0, end),
    )


def _name(node, source: _Source) -> str:
    name = node.child_by_field_name("name")
    if name is None and node.parent is not None and node.parent.type == "variable_declarator":
        name = node.parent.child_by_field_name("name")
    if name is None and node.type == "impl_item":
        name = node.child_by_field_name("type")
    return source.node_text(name) if name is not None else ""


def _outer(node, grammar: str):
    """The node whose first line is the declaration's first line: wrappers and leading
    decorators/attributes included."""
    outer = node
    wrappers = _WRAPPERS[grammar]
    while outer.parent is not None and outer.parent.type in wrappers:
        if outer.parent.type in ("lexical_declaration", "variable_declaration") and outer.parent.named_child_count > 1:
            break  # `const a = 1, f = () => 0`: the statement is not this function's alone
        outer = outer.parent
    return outer


def _leading_start(outer):
    """The first of the decorators/attributes that sit right above `outer` as siblings."""
    first = outer
    sibling = outer.prev_named_sibling
    while sibling is not None and sibling.type in _LEADING_SIBLINGS:
        first, sibling = sibling, sibling.prev_named_sibling
    return first


def _in_class(node, grammar: str) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.type in _DEFINITIONS[grammar] and _DEFINITIONS[grammar][parent.type] != "class":
            return False
        if parent.type in ("class_definition", "class_body", "declaration_list", "interface_body"):
            return True
        parent = parent.parent
    return False


def _python_docstring(body, source: _Source) -> tuple[int, int] | None:
    if body is None or body.named_child_count == 0:
        return None
    first = next((child for child in body.named_children if child.type != "comment"), None)
    if first is None or first.type != "expression_statement" or first.named_child_count != 1:
        return None
    value = first.named_children[0]
    if value.type not in ("string", "concatenated_string"):
        return None
    return source.char(first.start_byte), source.char(first.end_byte)


def _is_doc_comment(comment_text: str, grammar: str) -> bool:
    if grammar == "go":
        return comment_text.startswith("//")
    if grammar == "rust":
        return (comment_text.startswith("///") and not comment_text.startswith("////")) or (
            comment_text.startswith("/**") and not comment_text.startswith("/**/")
        )
    return comment_text.startswith("/**") and not comment_text.startswith("/**/")


def _doc_comment(outer, source: _Source, grammar: str) -> tuple[int, int] | None:
    """The doc comment right above the declaration (and its decorators), as whole lines."""
    first = _leading_start(outer)
    comments = []
    line = first.start_point.row
    sibling = first.prev_sibling
    while sibling is not None and sibling.type in _COMMENTS:
        end_row = sibling.end_point.row - (1 if sibling.end_point.column == 0 else 0)
        if end_row != line - 1 or not _is_doc_comment(source.node_text(sibling), grammar):
            break
        comments.append(sibling)
        line = sibling.start_point.row
        sibling = sibling.prev_sibling
        if grammar != "go" and comments and source.node_text(comments[-1]).startswith("/**"):
            break  # one block comment is the doc comment
    if not comments:
        return None
    text = source.text
    start = source.char(comments[-1].start_byte)
    start = text.rfind("\n", 0, start) + 1
    if text[start : source.char(comments[-1].start_byte)].strip():
        return None  # code before the comment on its line: not a doc comment of ours
    end = text.find("\n", source.char(comments[0].end_byte) - 1)
    end = len(text) if end == -1 else end + 1
    return start, end


# -- facts for the docstring template --------------------------------------------


def _facts(node, body, source: _Source, grammar: str, kind: str) -> tuple[tuple[str, ...], bool, tuple[str, ...], str, bool]:
    if kind == "class":
        return (), False, (), "", False
    params = tuple(_params(node, source, grammar, kind))
    return_type = _return_type(node, source, grammar)
    returns = bool(return_type) and return_type not in ("None", "void", "()")
    if not returns and body is not None and grammar in ("python", "javascript", "typescript", "tsx"):
        returns = any(
            walk.type in ("return_statement", "yield") and walk.named_child_count > 0
            for walk in _own_nodes(body, grammar)
        ) or (body.type not in ("block", "statement_block") and grammar != "python")  # `x => x + 1`
    raises = tuple(dict.fromkeys(_raises(node, body, source, grammar)))
    yields = grammar == "python" and body is not None and any(walk.type == "yield" for walk in _own_nodes(body, grammar))
    return params, returns and not yields, raises, return_type, yields


def _params(node, source: _Source, grammar: str, kind: str) -> Iterator[str]:
    parameters = node.child_by_field_name("parameters")
    if parameters is None:
        return
    first = True
    for child in parameters.named_children:
        name = _param_name(child, source, grammar)
        if name and grammar == "python" and first and kind == "method" and name in ("self", "cls"):
            first = False
            continue
        first = False
        if grammar == "go" and child.type in ("parameter_declaration", "variadic_parameter_declaration"):
            names = [source.node_text(n) for n in child.children_by_field_name("name")]
            yield from names
            continue
        if name:
            yield name


def _param_name(child, source: _Source, grammar: str) -> str:
    kind = child.type
    if kind in ("comment", "self_parameter"):
        return ""
    if kind == "identifier":
        return source.node_text(child)
    if grammar == "python":
        if kind in ("list_splat_pattern", "dictionary_splat_pattern"):
            stars = "*" if kind == "list_splat_pattern" else "**"
            inner = next((n for n in child.named_children if n.type == "identifier"), None)
            return stars + source.node_text(inner) if inner else ""
        if kind == "typed_parameter":
            inner = child.named_children[0] if child.named_child_count else None
            return _param_name(inner, source, grammar) if inner is not None else ""
        if kind in ("default_parameter", "typed_default_parameter"):
            name = child.child_by_field_name("name")
            return source.node_text(name) if name is not None else ""
        return ""
    if grammar in ("javascript", "typescript", "tsx"):
        if kind in ("required_parameter", "optional_parameter"):
            pattern = child.child_by_field_name("pattern")
            return _param_name(pattern, source, grammar) if pattern is not None else ""
        if kind == "assignment_pattern":
            left = child.child_by_field_name("left")
            return _param_name(left, source, grammar) if left is not None else ""
        if kind == "rest_pattern":
            inner = next((n for n in child.named_children if n.type == "identifier"), None)
            return source.node_text(inner) if inner is not None else ""
        return ""
    if grammar == "rust" and kind == "parameter":
        pattern = child.child_by_field_name("pattern")
        return source.node_text(pattern) if pattern is not None and pattern.type == "identifier" else ""
    if grammar == "java" and kind in ("formal_parameter", "spread_parameter"):
        name = child.child_by_field_name("name")
        if name is None:
            declarator = next((n for n in child.named_children if n.type == "variable_declarator"), None)
            name = declarator.child_by_field_name("name") if declarator is not None else None
        return source.node_text(name) if name is not None else ""
    return ""


def _return_type(node, source: _Source, grammar: str) -> str:
    field = {"python": "return_type", "go": "result", "rust": "return_type", "java": "type"}.get(grammar, "return_type")
    value = node.child_by_field_name(field)
    if value is None:
        return ""
    text = source.node_text(value)
    return text.lstrip(":").strip()


def _own_nodes(body, grammar: str) -> Iterator:
    """Nodes of a body, not descending into nested functions, classes or lambdas."""
    stop = set(_DEFINITIONS[grammar]) | {"lambda", "function", "function_expression", "arrow_function"}
    stack = list(body.named_children)
    while stack:
        node = stack.pop()
        yield node
        if node.type not in stop:
            stack.extend(node.named_children)


def _raises(node, body, source: _Source, grammar: str) -> Iterator[str]:
    if grammar == "java":
        throws = next((child for child in node.children if child.type == "throws"), None)
        if throws is not None:
            yield from (source.node_text(child) for child in throws.named_children)
        return
    if body is None or grammar not in ("python", "javascript", "typescript", "tsx"):
        return
    for walk in _own_nodes(body, grammar):
        if walk.type not in ("raise_statement", "throw_statement") or walk.named_child_count == 0:
            continue
        value = walk.named_children[0]
        if value.type in ("call", "new_expression"):
            value = value.child_by_field_name("function") or value.child_by_field_name("constructor") or value
        if value.type in ("identifier", "attribute", "member_expression"):
            yield source.node_text(value)


# -- indentation fallback --------------------------------------------------------


def _indent_width(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def indentation_symbol(text: str, offset: int, language: str = "") -> Symbol | None:
    """A block found by indentation: the nearest line at or above the cursor that the next
    non-blank line is indented under, through the last line indented deeper (plus a
    closing `}`/`end` at the header's own indentation)."""
    lines = text.splitlines(keepends=True)
    if not lines:
        return None
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    cursor_line = min(text.count("\n", 0, offset), len(lines) - 1)

    def next_content(index: int) -> int | None:
        for other in range(index + 1, len(lines)):
            if lines[other].strip():
                return other
        return None

    for header in range(cursor_line, -1, -1):
        if not lines[header].strip():
            continue
        following = next_content(header)
        if following is None or _indent_width(lines[following]) <= _indent_width(lines[header]):
            continue
        if set(lines[header].strip()) <= set("{(") and header > 0 and lines[header - 1].strip():
            header -= 1  # an opener on its own line (Allman braces) belongs to the line above
        depth = _indent_width(lines[header])
        last = following
        for other in range(following, len(lines)):
            if lines[other].strip() and _indent_width(lines[other]) <= depth:
                if lines[other].strip().startswith(("}", "end", ")")):
                    last = other
                break
            if lines[other].strip():
                last = other
        if last < cursor_line:
            continue
        header_text = lines[header]
        match = re.search(r"([A-Za-z_][\w]*)\s*[(:{=]", header_text) or re.search(r"([A-Za-z_]\w*)", header_text)
        indent = header_text[: _indent_width(header_text)]
        end = starts[last] + len(lines[last].rstrip("\r\n"))
        return Symbol(
            kind="block", name=match.group(1) if match else "", language=language, start=starts[header] + len(indent),
            end=end, decl_start=starts[header] + len(indent), header_end=starts[header] + len(header_text.rstrip("\r\n")),
            body_start=starts[following], body_end=end, doc=None, indent=indent,
            start_line=header, end_line=last,
        )
    return None
