"""The bot: model loading, prompt building, generation, the OpenAI-compatible API, the chat page."""
