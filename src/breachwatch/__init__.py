"""breachwatch: breach response for the organisation that was breached and the people in the leak."""

__version__ = "0.1.0"
