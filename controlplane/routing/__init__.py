"""Services, their routing tables (deployments) and the config revisions published to ``rdv.config``."""
