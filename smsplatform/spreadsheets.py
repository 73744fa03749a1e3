"""CSV cells as spreadsheets (Excel above all) read them.

A spreadsheet opening a CSV file runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab
or CR before one) as a formula: ``=HYPERLINK(…)`` or ``=cmd|…`` in a contact's name would run on the
computer of whoever opens an export (OWASP "CSV injection"). Such text is stored as it was given
and neutralised where a CSV file is written, by a leading ``'``, which the import drops again.
"""
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def unescape_cell(value: str) -> str:
    """A cell read from a CSV file without the ``'`` that keeps a spreadsheet from running it as a formula."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value
