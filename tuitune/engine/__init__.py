"""The engine: the supervisor and everything it uses to start, watch and steer trials."""
