"""The three fixes, chosen from the facts of a diagnosis.

- ``isp-hostname``: type a name in Gmail that the presented certificate
  already covers (verified by a real handshake before it is recommended);
- ``new-certificate``: a Let's Encrypt certificate for the name Gmail uses;
- ``sni``: one Exim server, one certificate per alias domain, picked by SNI.
"""

from gmailfix.remedies.plan import REMEDY_KINDS, Remedy

__all__ = ["REMEDY_KINDS", "Remedy"]
