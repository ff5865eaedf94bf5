"""Audits of what the pipeline has produced, run after the fact (the demo's last step).

- `documents`: every output a person could read (e-mails and their attachments, worksheets,
  reports, Data Docs, exports, the warehouse's tables) decoded into plain text records;
- `privacy_check`: the victims' personal details from the synthetic sources, and which of them
  appear in those records.
"""
