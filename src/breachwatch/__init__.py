"""breachwatch: breach response for the breached organisation and the people in the leak."""

__version__ = "0.1.0"
