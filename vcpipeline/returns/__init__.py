"""The quarterly compliance return: what a force hands its PCC, and regional or national tables
built from returns alone.

No force can send victims' records, so the national picture is built from aggregate files. A
return is a CSV of counts (long format, one measure per row, the counts behind every rate), a
Frictionless Table Schema describing it, a manifest with its SHA-256 and a one-page HTML
(`build.py` reads the warehouse, `table.py` defines and checks the file, `files.py` writes and
verifies it, `combine.py` adds returns up, `page.py` draws both pages).
"""
