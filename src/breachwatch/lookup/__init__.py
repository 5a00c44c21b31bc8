"""Private lookup: an RFC 9497 OPRF lets a person check an identifier without revealing it."""
