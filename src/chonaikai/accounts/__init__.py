"""Accounts: people who sign in, their roles per association or city, password-free sign-in, sessions."""
