"""
Hostile scripts: attempts to leave the script language or the sandbox (SPEC §9.2, §9.7).

Each entry is ``(name, source, reason)``: *reason* is the rejection token the
validator must give, or ``None`` when the script is inside the language and the
runners must contain it at run time (it then ends with an error, a limit or a
harmless result, without reaching anything the allow-list forbids).

``BOMBS`` are accepted scripts that only a runner with hard limits can stop;
they never run in-process.

Every script may call ``submit_job`` and ``list_things``; the allow-list never
contains ``delete_all``, which the corpus keeps trying to reach.
"""

from __future__ import annotations

ALLOWLIST = ["submit_job", "list_things"]
FORBIDDEN_TOOL = "delete_all"

CORPUS: list[tuple[str, str, str | None]] = [
    # -- imports in disguise -------------------------------------------------
    ("import", "import os", "forbidden_node"),
    ("from-import", "from os import system", "forbidden_node"),
    ("dunder-import-call", "os = __import__('os')", "forbidden_call_target"),
    ("dunder-import-name", "f = __import__", "dunder_name"),
    ("builtins-subscript", "f = __builtins__['__import__']", "dunder_name"),
    ("importlib-name", "m = importlib.import_module('os')", "attribute_target_not_allowed"),
    ("exec-call", "exec('import os')", "forbidden_call_target"),
    ("eval-call", "x = eval('1 + 1')", "forbidden_call_target"),
    ("compile-call", "c = compile('1', 'f', 'eval')", "forbidden_call_target"),
    ("eval-alias", "f = eval\nx = f('1 + 1')\nmission.observe('escaped', x)", None),
    ("eval-alias-dunder-text", "f = eval\nx = f('__import__(\"os\")')", "dunder_string"),
    ("exec-alias-in-lambda", "g = lambda: exec\ng()('import os')", "call_target_shape"),
    (
        "exec-alias-via-lambda",
        "g = lambda: exec\nh = g()\nh('x = 1')\nmission.observe('escaped', 1)",
        None,
    ),
    ("compile-alias", "c = compile\nx = c('1', 'f', 'eval')\nmission.observe('escaped', x)", None),
    ("getattr", "x = getattr(mission, 'observe')", "name_not_allowed"),
    ("globals", "g = globals()", "name_not_allowed"),
    ("vars", "v = vars(mission)", "name_not_allowed"),
    ("locals", "v = locals()", "name_not_allowed"),
    ("dir", "d = dir()", "name_not_allowed"),
    ("type-call", "t = type(mission)", "name_not_allowed"),
    ("type-three-arg", "T = type('T', (), {})", "name_not_allowed"),
    ("object", "o = object()", "name_not_allowed"),
    ("open", "f = open('pwned.txt', 'w')", "name_not_allowed"),
    ("breakpoint", "breakpoint()", "name_not_allowed"),
    ("help", "help()", "name_not_allowed"),
    ("print", "print('out')", "name_not_allowed"),
    ("input", "x = input()", "name_not_allowed"),
    ("memoryview", "m = memoryview(b'x')", "name_not_allowed"),
    ("super", "s = super()", "name_not_allowed"),
    # -- dunder walks ---------------------------------------------------------
    ("tuple-class-bases", "x = ().__class__.__bases__[0].__subclasses__()", "dunder_attribute"),
    ("mission-dict", "x = mission.__dict__", "dunder_attribute"),
    ("mission-class", "x = mission.__class__", "dunder_attribute"),
    ("func-globals", "def f():\n    pass\ng = f.__globals__", "dunder_attribute"),
    ("func-code", "def f():\n    pass\nc = f.__code__", "dunder_attribute"),
    ("tool-closure", "c = submit_job.__closure__", "dunder_attribute"),
    ("method-self", "s = mission.observe.__self__", "dunder_attribute"),
    ("gi-frame", "g = (x for x in [1])\nf = g.gi_frame", "attribute_target_not_allowed"),
    ("gi-frame-walk", "g = (x for x in [1])\nb = g.gi_frame.f_back", "attribute_target_not_name"),
    ("cr-frame", "c = mission.cr_frame", "attribute_not_allowed"),
    (
        "traceback-frame",
        "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    t = e.__traceback__.tb_frame",
        "attribute_target_not_name",
    ),
    (
        "traceback",
        "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    t = e.__traceback__",
        "dunder_attribute",
    ),
    (
        "exception-args",
        "try:\n    1 / 0\nexcept Exception as e:\n    a = e.args",
        "attribute_target_not_allowed",
    ),
    ("exception-with-traceback", "e = ValueError('x').with_traceback", "attribute_target_not_name"),
    ("dunder-string-key", "d = {}\nx = d['__class__']", "dunder_string"),
    ("dunder-in-fstring", "x = f'__{1}'", "dunder_string"),
    ("class-body", "class A:\n    pass", "forbidden_node"),
    # -- format-string traversal -----------------------------------------------
    ("format-attr", "x = '{0.__class__}'.format(mission)", "attribute_target_not_name"),
    (
        "str-format-unbound",
        "x = str.format('{0.__class__}', mission)",
        "attribute_target_not_allowed",
    ),
    ("format-map", "x = '{a}'.format_map({'a': 1})", "attribute_target_not_name"),
    ("fstring-conversion-spec", "y = 8\nx = f'{mission!r:>{y}}'", None),
    ("percent-format", "x = '%s %r' % (mission, submit_job)", None),
    ("fstring-nested-dunder", "x = f'{mission.__class__}'", "dunder_attribute"),
    # -- NFKC identifiers --------------------------------------------------------
    ("fullwidth-eval", "x = ｅｖａｌ('1')", "forbidden_call_target"),
    ("fullwidth-import", "x = _＿ｉｍｐｏｒｔ＿＿('os')", "forbidden_call_target"),
    ("math-bold-exec", "𝐞𝐱𝐞𝐜('import os')", "forbidden_call_target"),
    ("math-italic-eval-alias", "f = 𝑒𝑣𝑎𝑙\nmission.observe('escaped', f('1'))", None),
    ("fullwidth-dunder-attr", "x = mission._＿ｄｉｃｔ＿＿", "dunder_attribute"),
    ("fullwidth-bind-len", "ｌｅｎ = 3", "shadows_protected_name"),
    # -- tools outside the allow-list, the call cap ------------------------------
    ("forbidden-tool-await", "await delete_all()", "await_not_allowed"),
    ("forbidden-tool-call", "delete_all()", "name_not_allowed"),
    ("tool-alias-await", "f = submit_job\nawait f()", "await_not_allowed"),
    ("tool-in-list", "await [submit_job][0]()", "await_not_allowed"),
    ("tool-not-awaited", "p = submit_job(x=1)", "tool_call_not_awaited"),
    ("tool-alias-not-awaited", "f = submit_job\np = f(x=1)\nq = [p]", None),
    ("tool-name-kwarg", "await submit_job(tool='delete_all', name='delete_all')", None),
    ("call-cap", "while True:\n    await list_things()", None),
    (
        "call-cap-swallowed",
        "for i in range(300):\n    try:\n        await list_things(i=i)\n"
        "    except RuntimeError:\n        pass",
        None,
    ),
    ("await-in-def", "def f():\n    return await delete_all()", "await_not_allowed"),
    ("await-in-comprehension", "x = [await list_things() for _ in [1]]", "await_not_allowed"),
    ("await-in-lambda", "f = lambda: await submit_job()", "await_not_allowed"),
    # -- lambda defaults, walrus shadowing, rebinding ---------------------------
    ("lambda-default-eval", "f = lambda x=eval: x('1')\nmission.observe('escaped', f())", None),
    ("lambda-param-shadow", "f = lambda eval=len: eval('1')", "shadows_protected_name"),
    ("walrus-shadow-mission", "(mission := 1)", "shadows_protected_name"),
    ("walrus-shadow-tool", "if (submit_job := len):\n    pass", "shadows_protected_name"),
    ("walrus-in-comprehension", "x = [(len := y) for y in [1]]", "shadows_protected_name"),
    ("for-shadow-builtin", "for str in [1]:\n    pass", "shadows_protected_name"),
    (
        "except-as-shadow",
        "try:\n    pass\nexcept ValueError as mission:\n    pass",
        "shadows_protected_name",
    ),
    ("def-shadow-tool", "def list_things():\n    return 1", "shadows_protected_name"),
    ("param-shadow-exception", "def f(Exception):\n    pass", "shadows_protected_name"),
    ("aug-assign-builtin", "len += 1", "shadows_protected_name"),
    ("global-rebind", "def f():\n    global len", "forbidden_node"),
    ("starred-shadow", "a, *dict = [1, 2]", "shadows_protected_name"),
    # -- other statements ---------------------------------------------------------
    ("with-open", "with open('x') as f:\n    pass", "forbidden_node"),
    ("decorator", "@submit_job\ndef f():\n    pass", "decorator_not_allowed"),
    ("async-def", "async def f():\n    await delete_all()", "forbidden_node"),
    ("del-builtin", "del len", "forbidden_node"),
    ("attribute-store", "mission.observe = len", "invalid_target"),
    ("subscript-store", "x = {}\nx['__class__'] = 1", "invalid_target"),
    ("yield-from", "def f():\n    yield from [1]", "forbidden_node"),
    ("dict-unpacking", "d = {}\nx = {**d}", "dict_unpacking"),
    # -- accepted, harmless at run time ---------------------------------------------
    ("raise-stopiteration", "raise StopIteration", None),
    ("recursion", "def f():\n    return f()\nf()", None),
    ("key-observe", "x = sorted([1, 2], key=mission.observe)", None),
    ("observe-self", "mission.observe('m', mission)\nmission.event('e', tool=submit_job)", None),
    ("digits-limit", "x = int('9' * 100000)", None),
    (
        "exception-str",
        "try:\n    1 / 0\nexcept Exception as e:\n    mission.observe('e', str(e))",
        None,
    ),
]

BOMBS: list[tuple[str, str]] = [
    ("int-power", "x = 10 ** 10 ** 10"),
    ("busy-loop", "while True:\n    pass"),
    ("string-bomb", "x = 'a' * 10 ** 10"),
    ("list-bomb", "x = [[]] * 10 ** 9"),
    (
        "caught-memory",
        "try:\n    x = [0] * 10 ** 9\nexcept Exception:\n    while True:\n        pass",
    ),
    ("observe-flood", "while True:\n    mission.observe('k', 'x' * 10 ** 6)"),
    ("eval-alias", "f = eval\nx = f('1')\nmission.observe('escaped', x)"),
    ("call-cap", "while True:\n    await list_things()"),
    ("lambda-default-eval", "f = lambda x=eval: x('1')\nmission.observe('escaped', f())"),
    ("recursion", "def f():\n    return f()\nf()"),
]
