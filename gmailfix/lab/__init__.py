"""The local lab: a private CA, a DNS server and SMTP servers on loopback.

Used by the tests, by ``gmailfix lab`` and by ``gmailfix demo``. Nothing here
reaches beyond 127.0.0.0/8.
"""
