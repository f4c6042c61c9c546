"""The rendezvous worker: collects the scores of every model per request and picks one answer."""
