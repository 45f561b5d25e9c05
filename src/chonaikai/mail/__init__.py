"""E-mail: composing messages (compose.py), sending them over SMTP (smtp.py), the demo catcher."""
