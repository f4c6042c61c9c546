"""Ground truth: labels clients send back for requests, to be joined with decisions for accuracy."""
