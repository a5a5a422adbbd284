"""The pure core: the rules of each game, the computer's engines, the match as decide and apply
over the ordered event log, and the clock. No Django, no asyncio, no database: what is legal and
what a move does, decided the same in every process, in a test, or in an engine worker."""
