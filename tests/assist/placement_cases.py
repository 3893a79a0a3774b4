"""Real-shaped docstring placement cases: source with the cursor marked by ‸.

Names ending in `_crlf` are run with every "\\n" turned into "\\r\\n" (input and expected);
`golden/docstring/<name>.expected` holds the exact text after placement with the
scripted fills of test_docstring_placement.py. Cases whose name ends `_replace` replace an
existing docstring.
"""

CURSOR = "‸"

CASES: dict[str, tuple[str, str]] = {
    # ---- Python -------------------------------------------------------------
    "py_simple": ("python", "def add(a, b):\n    ‸return a + b\n"),
    "py_no_params": ("python", "import os\n\n\ndef cwd():\n    return os.getcwd()‸\n"),
    "py_decorator": ("python", "import functools\n\n\n@functools.cache\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)‸\n"),
    "py_two_decorators": ("python", "@a\n@b(1, 2)\ndef f(x):‸\n    pass\n"),
    "py_cursor_on_decorator": ("python", "@‸app.route('/')\ndef index():\n    return 'hi'\n"),
    "py_multiline_signature": (
        "python",
        "def connect(\n    host: str,\n    port: int = 80,\n    *,\n    timeout: float | None = None,\n) -> bool:\n    ‸return True\n",
    ),
    "py_return_annotation_none": ("python", "def log(msg: str) -> None:\n    print(msg)‸\n"),
    "py_async": ("python", "async def fetch(url):\n    async with session.get(url) as r:\n        return await r.text()‸\n"),
    "py_nested_inner": ("python", "def outer(x):\n    def inner(y):\n        return x + y‸\n    return inner\n"),
    "py_nested_outer": ("python", "def outer(x):‸\n    def inner(y):\n        return x + y\n    return inner\n"),
    "py_method": ("python", "class Stack:\n    def push(self, item):\n        self.items.append(item)‸\n"),
    "py_classmethod": ("python", "class Point:\n    @classmethod\n    def origin(cls):\n        return cls(0, 0)‸\n"),
    "py_staticmethod_args": ("python", "class M:\n    @staticmethod\n    def total(*values, **options):\n        ‸return sum(values)\n"),
    "py_property": ("python", "class C:\n    @property\n    def size(self) -> int:\n        ‸return len(self.data)\n"),
    "py_one_line_body": ("python", "def f(): return 1‸\n"),
    "py_one_line_method": ("python", "class A:\n    def get(self, k): return self.d[k]‸\n"),
    "py_one_line_class": ("python", "class Empty(Exception): pass‸\n"),
    "py_one_line_two_statements": ("python", "def g(x): y = x * 2; return y‸\n"),
    "py_one_line_multiline_signature": ("python", "def h(\n    a,\n    b,\n): return a‸\n"),
    "py_comment_before_body": ("python", "def f(a):\n    # the answer\n    return a‸\n"),
    "py_trailing_comment_on_def": ("python", "def f(a):  # noqa: E501\n    return a‸\n"),
    "py_comment_after_multiline_signature": ("python", "def f(\n    a,\n):  # why\n    # more\n\n    return a‸\n"),
    "py_tabs": ("python", "class T:\n\tdef m(self, x):\n\t\treturn x‸\n"),
    "py_tabs_one_line": ("python", "class T:\n\tdef m(self, x): return x‸\n"),
    "py_two_space_indent": ("python", "class T:\n  def m(self, x):\n    if x:\n      ‸return x\n"),
    "py_crlf": ("python", "def f(a, b):\n    return a - b‸\n"),
    "py_one_line_crlf": ("python", "def f(a): return a‸\n"),
    "py_no_trailing_newline": ("python", "def f(a):\n    return a‸"),
    "py_one_line_no_trailing_newline": ("python", "def f(a): return a‸"),
    "py_raises": ("python", "def parse(s):\n    if not s:\n        raise ValueError('empty')\n    raise errors.ParseError(s)‸\n"),
    "py_raise_in_nested_ignored": ("python", "def f(a):\n    def g():\n        raise KeyError(a)\n    return g‸\n"),
    "py_generator": ("python", "def count(n):\n    i = 0\n    while i < n:\n        yield i‸\n        i += 1\n"),
    "py_class": ("python", "class Config:\n    ‸name = 'x'\n\n    def load(self):\n        pass\n"),
    "py_class_bases_multiline": ("python", "class Handler(\n    Base,\n    Mixin,\n):\n    ‸x = 1\n"),
    "py_unicode_before": ("python", "# Größe → 😀\ndef größe(wert):\n    return wert‸\n"),
    "py_numpy_style": (
        "python",
        'def a(x):\n    """A.\n\n    Parameters\n    ----------\n    x\n        X.\n    """\n\n\ndef b(y):\n    return y‸\n',
    ),
    "py_rest_style": ("python", 'def a(x):\n    """A.\n\n    :param x: X.\n    """\n\n\ndef b(y):\n    return y‸\n'),
    "py_existing_replace": ("python", 'def f(a):\n    """Old."""\n    return a‸\n'),
    "py_existing_multiline_replace": ("python", "class K:\n    def f(self, a):\n        '''Old\n        text.'''\n        return a‸\n"),
    "py_module_level_code_after": ("python", "def f(a):\n    return a‸\n\n\nprint(f(1))\n"),
    "py_quote_in_fill": ("python", "def q(s):\n    return s‸\n"),
    # ---- JavaScript / TypeScript ---------------------------------------------
    "js_function": ("javascript", "function add(a, b) {\n  return a + b;‸\n}\n"),
    "js_export_function": ("javascript", "export function greet(name = 'you') {\n  return `hi ${name}`;‸\n}\n"),
    "js_arrow_const": ("javascript", "const double = (x) => x * 2;‸\n"),
    "js_export_arrow": ("javascript", "export const sum = (...xs) => {\n  return xs.reduce((a, b) => a + b, 0);‸\n};\n"),
    "js_async_throws": ("javascript", "async function load(url) {\n  if (!url) throw new TypeError('url');‸\n  return fetch(url);\n}\n"),
    "js_class_method": ("javascript", "class Queue {\n  push(item) {\n    this.items.push(item);‸\n  }\n}\n"),
    "js_class": ("javascript", "class Queue {‸\n  constructor() {\n    this.items = [];\n  }\n}\n"),
    "js_existing_replace": ("javascript", "/** Old. */\nfunction f(a) {\n  return a;‸\n}\n"),
    "js_crlf": ("javascript", "function f(a) {\n  return a;‸\n}\n"),
    "ts_typed_function": ("typescript", "export function parse(input: string, strict?: boolean): number {\n  return Number(input);‸\n}\n"),
    "ts_decorated_method": ("typescript", "class Api {\n  @Get('/')\n  list(limit: number): Item[] {\n    return [];‸\n  }\n}\n"),
    "ts_multiline_signature": ("typescript", "function build(\n  a: number,\n  b: number,\n): void {\n  ‸console.log(a, b);\n}\n"),
    "ts_interface": ("typescript", "export interface Shape {‸\n  area(): number;\n}\n"),
    "ts_no_trailing_newline": ("typescript", "function f(a: number) {\n  return a;‸\n}"),
    "tsx_component": ("tsx", "export function Button({ label }: Props) {\n  return <button>{label}</button>;‸\n}\n"),
    # ---- Go -------------------------------------------------------------------
    "go_function": ("go", "package m\n\nfunc Add(a, b int) int {\n\treturn a + b‸\n}\n"),
    "go_method": ("go", "package m\n\nfunc (s *Stack) Push(v int) {\n\ts.items = append(s.items, v)‸\n}\n"),
    "go_struct": ("go", "package m\n\ntype Stack struct {‸\n\titems []int\n}\n"),
    "go_existing_replace": ("go", "package m\n\n// Old comment.\n// Two lines.\nfunc F() error {\n\treturn nil‸\n}\n"),
    "go_crlf": ("go", "package m\n\nfunc F(x int) int {\n\treturn x‸\n}\n"),
    "go_no_trailing_newline": ("go", "package m\n\nfunc F() {\n‸}"),
    # ---- Rust -----------------------------------------------------------------
    "rust_fn": ("rust", "fn add(a: i32, b: i32) -> i32 {\n    a + b‸\n}\n"),
    "rust_attribute": ("rust", "#[inline]\n#[must_use]\npub fn id(x: u8) -> u8 {\n    x‸\n}\n"),
    "rust_impl_method": ("rust", "impl Stack {\n    pub fn push(&mut self, v: i32) {\n        self.items.push(v);‸\n    }\n}\n"),
    "rust_one_line_impl": ("rust", "impl S { fn get(&self) -> u8 { self.0‸ } }\n"),
    "rust_struct": ("rust", "#[derive(Debug)]\npub struct Point {‸\n    x: f64,\n}\n"),
    "rust_existing_replace": ("rust", "/// Old.\n/// Older.\nfn f() {‸}\n"),
    "rust_crlf": ("rust", "fn f(x: u8) -> u8 {\n    x‸\n}\n"),
    # ---- Java -----------------------------------------------------------------
    "java_method": ("java", "class Calc {\n    int add(int a, int b) {\n        return a + b;‸\n    }\n}\n"),
    "java_annotated_throws": (
        "java",
        "class Io {\n    @Override\n    public String read(Path p) throws IOException {\n        return Files.readString(p);‸\n    }\n}\n",
    ),
    "java_constructor": ("java", "class P {\n    P(int x) {\n        this.x = x;‸\n    }\n}\n"),
    "java_class": ("java", "public class Calc {‸\n}\n"),
    "java_existing_replace": ("java", "class A {\n    /**\n     * Old.\n     */\n    void f() {‸}\n}\n"),
    "java_varargs_crlf": ("java", "class A {\n    static int sum(int... xs) {\n        return 0;‸\n    }\n}\n"),
    # ---- other languages (indentation fallback) ----------------------------------
    "lua_function": ("lua", "local M = {}\n\nfunction M.add(a, b)\n  return a + b‸\nend\n\nreturn M\n"),
    "ruby_method": ("ruby", "class A\n  def go(x)\n    x + 1‸\n  end\nend\n"),
    "c_function": ("c", "int add(int a, int b)\n{\n    return a + b;‸\n}\n"),
}
