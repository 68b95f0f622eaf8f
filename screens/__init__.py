"""The Textual wizard. Installed as ``gmailfix.screens``; it only calls the engine."""
