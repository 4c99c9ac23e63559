"""The ERP edge: CSV import, export and the partner directory the operator feeds."""
