"""Messages to people: e-mail and SMS senders behind one interface."""
