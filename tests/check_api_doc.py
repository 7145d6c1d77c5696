#!/usr/bin/env python3
"""Fails, listing them, if public names of the libraries are missing from docs/api.md.

The public names are those declared at namespace scope in namespace ad, ad::nn or
ad::nn::mpi (not ad::detail, not inside a class or function) in the headers given: classes, structs, enums,
aliases, concepts, functions and variables. Operators, explicit instantiations and
definitions of names declared elsewhere (qualified, such as Var<T>::tape) are not names of
their own. docs/api.md documents a name N of ad as `ad::N` (nn: `nn::N`, mpi: `mpi::N`) anywhere, or
as an inline code span that starts with N (`matmul`, `pow(a, p)`), as its list of ops does.

A name list rather than Doxygen: api.md is written for readers (one line per name, grouped
by header), and Doxygen's warnings would ask for its own comment syntax on every member and
parameter of every declaration, which the headers' comments do not follow.

This reads declarations, not C++: comments, strings and preprocessor lines are removed, then
the text is cut at ';', '{' and '}', and a piece that ends in '{' opens a namespace or a
block (class, enum, function body), whose contents are skipped.

Usage: check_api_doc.py DOC PATH...   (exit status 1 and a list if a name is missing)
A PATH is a header, or a directory whose *.hpp files are read (so that ctest sees a header
added after configuring).
"""

import pathlib
import re
import sys

KEYWORDS = {
    "alignas", "decltype", "noexcept", "requires", "sizeof", "static_assert", "explicit",
    "operator", "return", "if", "for", "while", "switch",
}
IDENT = r"[A-Za-z_]\w*"
PUBLIC = ("ad", "ad::nn", "ad::nn::mpi")  # the public namespaces; ad::detail is not one


def strip(text):
    """The text without comments, string and character literals, and preprocessor lines."""
    text = re.sub(r"//[^\n]*|/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r'R"(\w*)\(.*?\)\1"', '""', text, flags=re.S)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'(\\.|[^'\\])*'", "''", text)
    lines, continued = [], False
    for line in text.split("\n"):
        directive = continued or line.lstrip().startswith("#")
        continued = directive and line.rstrip().endswith("\\")
        lines.append("" if directive else line)
    return "\n".join(lines)


def drop_template_heads(piece):
    """piece without its leading `template <...>` clauses (balanced angle brackets)."""
    while True:
        m = re.match(r"\s*template\s*<", piece)
        if not m:
            return piece
        depth, i = 1, m.end()
        while i < len(piece) and depth:
            depth += {"<": 1, ">": -1}.get(piece[i], 0)
            i += 1
        piece = piece[i:]


def declared_name(piece):
    """The name a namespace-scope declaration declares, or None."""
    piece = re.sub(r"\[\[.*?\]\]", " ", drop_template_heads(piece)).strip()
    if not piece or re.match(r"(extern\s+)?template\b|friend\b|static_assert\b", piece):
        return None
    if re.match(r"using\s+namespace\b", piece):
        return None
    m = re.match(rf"using\s+({IDENT})\s*=", piece)
    if m:
        return m.group(1)
    m = re.match(rf"(?:\w+\s+)*concept\s+({IDENT})", piece)
    if m:
        return m.group(1)
    m = re.match(rf"(?:\w+\s+)*(?:class|struct|union|enum(?:\s+class|\s+struct)?)\s+({IDENT})",
                 piece)
    if m:
        return m.group(1)
    if piece.startswith("using"):  # a using-declaration names something declared elsewhere
        return None
    # A function: the identifier before the first '(' outside angle brackets that is not a
    # keyword. A variable: the last identifier before '=' or the end.
    depth = 0
    for i, c in enumerate(piece):
        if c == "<":
            depth += 1
        elif c == ">" and depth:
            depth -= 1
        elif c == "(" and depth == 0:
            m = re.search(rf"(::\s*)?(~?{IDENT})\s*$", piece[:i])
            if not m or m.group(2) in KEYWORDS:
                continue
            if m.group(1) or re.search(r"\boperator\s*\S*\s*$", piece[:i]):
                return None
            return m.group(2)
    if re.search(rf"{IDENT}\s*<.*>\s*=", piece, flags=re.S):
        return None  # a variable template's specialisation (is_dual<Dual<T>> = true)
    m = re.search(rf"(::\s*)?({IDENT})\s*(=.*)?$", piece, flags=re.S)
    if m and not m.group(1) and m.group(2) not in KEYWORDS:
        return m.group(2)
    return None


def public_names(path):
    """{(namespace, name)} declared in the header at `path`."""
    text = strip(open(path, encoding="utf-8").read())
    names = set()
    stack = []  # a namespace's name ("ad", "ad::nn", "ad::detail") or None for a block
    start = 0
    for i, c in enumerate(text):
        if c not in ";{}":
            continue
        piece = " ".join(text[start:i].split())
        start = i + 1
        if c == "}":
            if stack:
                stack.pop()
            continue
        in_namespace = all(s is not None for s in stack)
        scope = stack[-1] if stack else ""
        m = re.fullmatch(rf"(?:inline\s+)?namespace\s*((?:{IDENT})(?:::{IDENT})*)?", piece)
        if c == "{" and m and in_namespace:
            inner = m.group(1) or "(anonymous)"
            stack.append(f"{scope}::{inner}" if scope else inner)
            continue
        if c == "{":
            stack.append(None)
        if in_namespace and scope in PUBLIC:
            name = declared_name(piece)
            if name:
                names.add((scope, name))
    return names


def documented(doc, spans, scope, name):
    prefix = scope.split("::")[-1] + "::"
    if re.search(rf"(?<![\w:]){re.escape(prefix + name)}(?!\w)", doc):
        return True
    return any(re.match(rf"{re.escape(name)}(?!\w)", span) for span in spans)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    doc = open(argv[1], encoding="utf-8").read()
    spans = re.findall(r"`([^`\n]+)`", doc)
    headers = []
    for arg in argv[2:]:
        path = pathlib.Path(arg)
        headers += sorted(path.glob("*.hpp")) if path.is_dir() else [path]
    if not headers:
        sys.exit(f"no header in {' '.join(argv[2:])}")
    names = set()
    for header in map(str, headers):
        names |= {(scope, name, header) for scope, name in public_names(header)}
    missing = sorted(n for n in names if not documented(doc, spans, n[0], n[1]))
    for scope, name, header in missing:
        print(f"{argv[1]}: {scope}::{name} (declared in {header}) is not documented")
    print(f"{len(names) - len(missing)} of {len(names)} public names documented in {argv[1]}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
