"""The API's routers: ask and search, documents, the OpenAI-compatible chat endpoint, service and web page."""
