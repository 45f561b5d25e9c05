"""安否確認: after an earthquake, one tally of which households are safe, need help or are away —
answered by link, LINE, paper and 班長 visits, on the per-household ledger of the notice that
carries the check."""
