"""Checks the LaTeX of every math node at build time.

MathJax renders math in the reader's browser, so a typo in a formula would
otherwise reach the site as red error text with no warning from Sphinx. This
extension warns (an error under ``-W``) when a formula has unbalanced braces,
mismatched ``\\begin``/``\\end`` or ``\\left``/``\\right``, or a command outside
the list of MathJax TeX commands below (extend it when a formula needs one).
"""

from __future__ import annotations

import re

KNOWN = set(
    """
    alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu
    xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta
    Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega
    frac tfrac dfrac sqrt sum prod int oint lim limsup liminf sup inf max min arg argmax
    argmin log ln exp sin cos tan det dim ker Pr operatorname
    mathrm mathbf mathbb mathcal mathit mathsf mathtt boldsymbol text textrm textbf textit texttt
    hat bar tilde dot ddot vec widehat widetilde overline underline
    left right big Big bigg Bigg bigl bigr Bigl Bigr middle
    cdot cdots ldots dots vdots ddots times div pm mp odot otimes oplus circ ast star
    le leq ge geq ne neq lt gt ll gg approx sim simeq propto equiv cong in notin ni subset
    subseteq supset supseteq cup cap setminus emptyset forall exists neg land lor
    to rightarrow leftarrow Rightarrow Leftarrow leftrightarrow iff implies mapsto gets
    infty partial nabla top perp mid parallel prime ell
    quad qquad , ; ! : { } | _ % & # langle rangle lceil rceil lfloor rfloor lVert rVert
    lvert rvert Vert vert
    begin end displaystyle textstyle scriptstyle
    """.split()
)
ENVIRONMENTS = {
    "cases",
    "aligned",
    "align",
    "align*",
    "matrix",
    "pmatrix",
    "bmatrix",
    "array",
    "equation",
    "equation*",
    "gathered",
    "split",
}
_COMMAND = re.compile(r"\\([A-Za-z]+|.)")


def problems(latex: str) -> list[str]:
    """What is wrong with one formula: an empty list when it is well formed."""
    found = []
    depth = 0
    environments: list[str] = []
    lefts = 0
    i = 0
    while i < len(latex):
        char = latex[i]
        if char == "\\":
            match = _COMMAND.match(latex, i)
            command = match.group(1)
            i = match.end()
            if command in ("\\", "{", "}", " "):
                continue
            if command not in KNOWN:
                found.append(f"unknown command \\{command}")
            if command in ("begin", "end"):
                env = re.match(r"\s*\{([^}]*)\}", latex[i:])
                if env is None:
                    found.append(f"\\{command} without an environment name")
                    continue
                name = env.group(1)
                i += env.end()
                if name not in ENVIRONMENTS:
                    found.append(f"unknown environment {name}")
                if command == "begin":
                    environments.append(name)
                elif not environments or environments.pop() != name:
                    found.append(f"\\end{{{name}}} does not close the open environment")
            elif command == "left":
                lefts += 1
            elif command == "right":
                lefts -= 1
                if lefts < 0:
                    found.append("\\right without \\left")
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                found.append("a } closes no group")
                depth = 0
        i += 1
    if depth:
        found.append(f"{depth} unclosed {{")
    if environments:
        found.append(f"unclosed environments {environments}")
    if lefts > 0:
        found.append("\\left without \\right")
    return found


def _check(app, doctree, docname) -> None:
    # Sphinx and docutils come with the docs extra; `problems` needs neither,
    # so the test suite can import this module without them.
    from docutils import nodes
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    for node in doctree.findall(lambda n: isinstance(n, (nodes.math, nodes.math_block))):
        latex = node.astext()
        for problem in problems(latex):
            logger.warning(f"math {latex!r}: {problem}", location=node)


def setup(app):
    app.connect("doctree-resolved", _check)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
