"""The ``yiwang`` command: Django's management commands plus the platform's own.

    yiwang serve                      serve the portal on http://127.0.0.1:8000
    yiwang demo                       load the demo city (idempotent)
    yiwang audit verify               walk the audit hash chain
    yiwang calendar add-workdays D N  the date N working days after D
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["yiwang", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
