"""`fit-lab demo`: a whole simulated month through every real stage (see month.py)."""
