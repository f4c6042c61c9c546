"""Settings per environment: ``local`` (default), ``test`` and ``production``, all built on ``base``.

Every value that comes from the environment is read through ``controlplane.settings.env`` so that a
missing or malformed value fails at start-up with a message naming the variable.
"""
