"""The copilot microservice: settings, wiring, and (later) the FastAPI app."""
