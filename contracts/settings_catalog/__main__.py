"""``python -m contracts.settings_catalog [--markdown | --write-readme | --check-readme]``."""

from __future__ import annotations

import argparse
import sys

from contracts.settings_catalog.markdown import README, readme_with_table, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The environment variables every process reads.")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--markdown", action="store_true", help="print the README's configuration table (default)")
    action.add_argument("--write-readme", action="store_true", help="rewrite the table between README.md's markers")
    action.add_argument("--check-readme", action="store_true", help="exit 1 when README.md's table is out of date")
    args = parser.parse_args(argv)
    if args.write_readme or args.check_readme:
        current = README.read_text()
        wanted = readme_with_table(current)
        if args.check_readme:
            if current != wanted:
                print("README.md's configuration table is out of date: "
                      "run `python -m contracts.settings_catalog --write-readme`", file=sys.stderr)
                return 1
            return 0
        if current != wanted:
            README.write_text(wanted)
        return 0
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
