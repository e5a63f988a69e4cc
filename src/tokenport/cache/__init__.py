"""The response cache: an answer served again for the same request, without the upstream.

    policy.py  when a request is cached: `X-Tokenport-Cache` / `X-OpenRouter-Cache`, config
    key.py     what matches: a hash of the normalised request, scoped to the key
    store.py   where entries live: in memory, or in Redis when `redis_url` is set
    cache.py   `ResponseCache`: look up, decide what may be stored, store

It works on the gateway's own values (`ChatRequest` in, `ChatResponse` or the stream's
`Chunk`s out), below the front doors, so one entry serves every door that asks the same
question: Chat, Messages, Responses and Completions.
"""
