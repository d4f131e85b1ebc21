"""Offline evaluation: replay historical chats through the copilot pipeline (see the eval issue)."""
