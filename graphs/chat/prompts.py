"""The chat's texts: the help, and the prompts used when a model is configured."""

from __future__ import annotations

HELP = """I locate photos and explain how. Send a photo (/image PATH), then ask:
- "why?" or "why not Sweden?": the evidence for the answer, or against another place
- "what did the tools say?": every check and its result
- "what else could it be?": the other candidates
- "how sure are you?": what the confidence rests on
- a hint such as "I think it is Finland" or /hint TEXT: I check again with it
- "check again" or /recheck: check again with the hints so far
Commands: /image PATH, /hint TEXT, /recheck, /why, /evidence, /alternatives, /confidence,
/answer, /help."""

EMPTY = "Empty message: type a question, send a photo (/image PATH), or /help."

NO_HINT = "What do you know about the photo? For example: /hint it was taken in winter in Finland"

CHAT_SYSTEM = (
    "You are the chat front of gre-agent, a system that geolocates photos and checks its "
    "answers with maps and gazetteers. Answer the user briefly (at most four sentences), "
    "using only what the agent found; say so when it does not tell."
)

# The first words are the marker test doubles recognise this prompt by.
CHAT_QUESTION = """Chat question: {question}

What the agent found:
{found}"""

ROUTE_QUESTION = """Chat question: {question}

Which of these does the user want? Answer with one word: hint (the user tells something
about the photo), recheck, why, evidence, alternatives, confidence, answer, or chat."""
