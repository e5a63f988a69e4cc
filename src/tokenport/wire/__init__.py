"""Every wire format, both directions: the only code that handles wire dicts.

Four directions, from the gateway's seat: client in (a door's request body -> `ChatRequest`),
client out (`ChatResponse` / `Chunk`s -> the door's body and events), upstream out
(`ChatRequest` -> a provider's body), upstream in (a provider's answer -> `ChatResponse` /
`Chunk`s). Function names say their format, so none repeats across modules.

Chat Completions     openai_chat: all four, in four sections
Anthropic Messages   client in: anthropic_client_in;  upstream out: anthropic_upstream_out;
                     client out and upstream in: anthropic_reply (whole answers),
                     anthropic_stream (events)
OpenAI Responses     client in: responses_client_in;  client out: responses_client_out;
                     upstream: as Chat Completions
legacy Completions   completions: client in and out;  upstream: as Chat Completions
Embeddings           embeddings: all four
Gemini API           client in: gemini_parse;  client out and upstream in: gemini_reply
                     (whole answers), gemini_stream (SSE and JSON-array streams);
                     upstream out: gemini_request

Shared: `common` (a door's body checks, the wrong-door hint), `sse` (server-sent events
both ways), `tool_stream` (streamed tool calls, one block at a time, for the Anthropic and
Responses encoders). The package imports nothing itself: a process loads only the formats
it uses.
"""
