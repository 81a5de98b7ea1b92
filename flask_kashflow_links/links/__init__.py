"""Links: the token codec, Link and its URLs, and the link store."""
