"""Print a help2man include file with a COMMANDS section for one program.

Usage: python3 commands.py MODULE PROGRAM
MODULE has build_parser(), the program's argparse parser. Every command and sub-command
(``smgwctl decode sml``) gets a subsection with its --help text, so new commands reach the man
page without editing debian/rules. Called by debian/rules with the built package on PYTHONPATH.
"""

import argparse
import importlib
import sys


def leaves(parser, words):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield words, parser
        return
    for name, child in subs[0].choices.items():
        yield from leaves(child, words + [name])


def roff(text):
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def main():
    module, prog = sys.argv[1], sys.argv[2]
    parser = importlib.import_module(module).build_parser()
    out = ["[COMMANDS]"]
    for words, child in leaves(parser, []):
        if not words:
            continue
        out += ['.SS "%s"' % " ".join([prog] + words), ".nf", roff(child.format_help()), ".fi"]
    print("\n".join(out))


if __name__ == "__main__":
    main()
