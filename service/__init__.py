"""The copilot microservice: settings, wiring, the FastAPI app (main.create_app), its routes,
schemas and the agent and trainer pages."""
