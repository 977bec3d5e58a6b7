"""Running it for a company: who may change what, spend limits around an answer, who spends what."""
