"""The HTTP gateway for predictions (ASGI, async views): validate, publish, await the Result."""
