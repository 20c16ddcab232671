"""The generative answer path: OpenAI, Azure OpenAI and OpenAI-compatible chat models behind verified
citations, retries and failover. Nothing here imports langchain-openai (and so tiktoken) until a
generative backend is configured: the extractive default stays light."""
