"""Notice board: officers post, members read; 文例, attachments, print sheets."""
