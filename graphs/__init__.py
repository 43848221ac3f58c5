"""LangGraph graphs: the staged GRE agent and the chat graph (graph issue)."""
