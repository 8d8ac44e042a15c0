"""Room model: rooms, participants, publications, subscriptions and the forwarding between them."""
