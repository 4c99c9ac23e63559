"""The ERP edge: CSV import (reader, row checks, the run), export, and the partner directory.

``reader`` streams a file and checks its header, ``rows`` checks each row's cells, ``imports``
runs the all-or-nothing upsert; ``exports`` streams tables out; ``members`` unlinks people.
"""
