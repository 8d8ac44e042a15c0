"""Session descriptions: parse offers and answers, build answers for publishers and offers for subscribers."""
