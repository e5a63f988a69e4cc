"""Word pools for the abuse simulator's prompts (`lab/abuse_traffic.py`): people's questions,
coding agents' tasks, batch jobs' items and harvesting campaigns' frames."""

from __future__ import annotations

SUBJECTS: dict[str, list[str]] = {
    "programming": [
        "recursion",
        "hash maps",
        "async functions",
        "database indexes",
        "unit tests",
        "memory leaks",
        "regex",
        "git rebase",
        "docker images",
        "REST endpoints",
        "race conditions",
        "binary search",
        "closures",
        "garbage collection",
    ],
    "mathematics": [
        "integrals",
        "eigenvalues",
        "prime numbers",
        "probability",
        "matrices",
        "derivatives",
        "limits",
        "group theory",
        "polynomials",
        "inequalities",
    ],
    "physics": [
        "entropy",
        "quantum tunnelling",
        "momentum",
        "relativity",
        "magnetic fields",
        "friction",
        "wave interference",
        "nuclear fission",
        "circuits",
    ],
    "chemistry": [
        "oxidation",
        "catalysts",
        "acid base reactions",
        "covalent bonds",
        "polymers",
        "isotopes",
        "organic synthesis",
        "molar mass",
    ],
    "biology": [
        "photosynthesis",
        "mitochondria",
        "gene expression",
        "evolution",
        "enzymes",
        "protein folding",
        "the immune system",
        "neurons",
        "bacteria",
    ],
    "medicine": [
        "diabetes treatment",
        "vaccine design",
        "blood pressure",
        "drug interactions",
        "cancer screening",
        "infection control",
        "pain management",
    ],
    "law": [
        "contract clauses",
        "copyright",
        "liability",
        "GDPR compliance",
        "patent claims",
        "tort law",
        "jurisdiction",
    ],
    "finance": [
        "bond pricing",
        "portfolio risk",
        "mortgage rates",
        "dividend policy",
        "tax planning",
        "equity valuation",
        "inflation hedging",
    ],
    "history": [
        "the Roman empire",
        "the French revolution",
        "the cold war",
        "medieval trade",
        "colonial independence",
        "ancient dynasties",
    ],
    "philosophy": [
        "free will",
        "utilitarian ethics",
        "consciousness",
        "virtue ethics",
        "epistemology",
        "the meaning of truth",
    ],
    "economics": [
        "supply and demand",
        "monetary policy",
        "trade tariffs",
        "recessions",
        "price elasticity",
        "unemployment",
    ],
    "astronomy": [
        "black holes",
        "planet formation",
        "galaxy rotation",
        "supernovae",
        "orbital mechanics",
    ],
    "engineering": [
        "beam load",
        "bridge design",
        "torque curves",
        "material stress",
        "manufacturing tolerance",
    ],
    "psychology": ["memory formation", "cognitive bias", "motivation", "anxiety", "learning"],
}

# everyday requests, by interest
CHAT_ASKS = [
    "can you help me {verb} {thing}",
    "how do I {verb} {thing}",
    "what's the best way to {verb} {thing}",
    "why does my {thing} keep {failing}",
    "quick question about {thing}",
    "I need to {verb} {thing} for {occasion}, any ideas?",
    "{thing} is {failing} again, what should I check",
    "explain {topic} like I'm new to it",
    "is it true that {topic} {claim}?",
    "give me a short summary of {topic}",
    "what do you think about {topic}",
    "compare {topic} and {topic2}",
    "write a {form} about {topic}",
    "rewrite this so it sounds friendlier: {sentence}",
    "translate to {language}: {sentence}",
    "my manager asked me to {verb} {thing}, where do I start",
    "{sentence} does that make sense?",
    "help",
    "thanks!",
    "ok and what about {topic2}?",
    "can you make it shorter",
    "no, I meant {thing}",
]
VERBS = [
    "fix",
    "speed up",
    "plan",
    "organise",
    "clean up",
    "set up",
    "debug",
    "improve",
    "understand",
    "write",
    "test",
    "budget for",
    "document",
    "migrate",
    "review",
]
THINGS = [
    "my python script",
    "the kitchen sink",
    "a birthday party",
    "our sales deck",
    "the CI pipeline",
    "my resume",
    "a weekly meal plan",
    "the garden",
    "my laptop",
    "the onboarding doc",
    "a cover letter",
    "the database backup",
    "my tax return",
    "a trip to Lisbon",
    "the team offsite",
    "a React component",
    "my bike",
    "the invoice",
]
FAILING = ["crashing", "timing out", "leaking", "getting slower", "failing", "breaking"]
OCCASIONS = ["tomorrow", "next week", "a client", "my kids", "the board meeting", "school"]
CLAIMS = ["is overrated", "changed everything", "still matters", "is misunderstood"]
FORMS = ["poem", "short story", "limerick", "blog post", "tweet", "toast", "haiku"]
LANGUAGES = ["Spanish", "French", "German", "Japanese", "Portuguese", "Italian"]
SENTENCES = [
    "we will not be able to ship on friday",
    "the meeting moved to 3pm and nobody told me",
    "please send the report before noon",
    "I loved the dinner last night",
    "our numbers look better than last quarter",
    "the server went down twice this week",
]

# what coding agents are asked to do (the human's task, which the loop keeps re-sending)
AGENT_TASKS = [
    "fix the failing test in {file}",
    "add pagination to the {thing} endpoint",
    "refactor {file} to use async io",
    "why is the build failing? here is the log: {log}",
    "implement a retry with backoff in {file}",
    "write unit tests for {file}",
    "rename {thing} to {thing2} everywhere",
    "the {thing} page is slow, profile it and fix it",
    "upgrade the project to the new {thing} api",
    "add a CLI flag to {file} for {thing}",
]
FILES = [
    "src/app/server.py",
    "lib/parser.ts",
    "cmd/main.go",
    "src/db/models.rs",
    "api/handlers.py",
    "web/components/Table.tsx",
    "internal/cache/lru.go",
]
CODE_THINGS = ["user", "invoice", "session", "order", "report", "search", "billing", "auth"]

AGENT_SYSTEMS = [
    "You are an interactive CLI tool that helps users with software engineering tasks. Use "
    "the available tools to read and edit files. Be concise. Never guess file contents.",
    "You are a coding agent running in the user's editor. You can run commands, read files "
    "and apply patches. Think step by step before using tools, and verify your changes.",
    "You are a helpful assistant that writes and edits code in the user's repository using "
    "tools. Follow the repository's conventions and keep diffs small.",
]
AGENT_UAS = [
    "claude-cli/2.0.14 (external, cli)",
    "codex_cli_rs/0.46.0",
    "Cline/3.32.1",
    "opencode/0.15.2",
]
AGENT_APPS = ["Claude Code", "Codex", "Cline", "opencode"]
AGENT_MAX = [32000, 8192, 16384, 4096]

CHAT_UAS = [
    "OpenAI/Python 1.109.1",
    "OpenAI/Python 1.99.9",
    "OpenAI/JS 5.23.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/141.0",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "aiohttp/3.12.15",
    "Anthropic/Python 0.69.0",
]
CHAT_APPS = ["open-webui", "sillytavern", "LibreChat", "typingmind", None, None, None]

# batch and evaluation jobs: one frame each, items vary
BATCH_FRAMES = [
    "Classify the sentiment of this review as positive, negative or neutral.\nReview: {item}",
    "Extract the company name, date and amount from this invoice text as JSON: {item}",
    "Question: {q}\nChoices: A) {a} B) {b} C) {c} D) {d}\nAnswer with the letter only.",
    "Q: {q}\nA: Let's think step by step.",
    "Summarise the following support ticket in one sentence: {item}",
    "Translate the following product title to German: {item}",
    "Is the following statement about {topic} true or false? {item}",
]
BATCH_ITEMS = [
    "the battery died after {n} days",
    "great value, arrived in {n} days",
    "invoice {n} from Acme GmbH dated 2025-03-{d} for EUR {n}.00",
    "order {n} never arrived and support did not answer",
    "stainless steel water bottle {n} ml",
    "a {n} piece puzzle of the alps",
    "customer {n} cannot log in after the update",
]
BATCH_MAX = [16, 64, 256, 512, 1024]

# harvesting campaigns
SWEEP_FRAMES = [
    "You are a world-class {subject} expert. Problem {n}: explain {topic} at a graduate level "
    "and solve a hard worked example about it.",
    "Write a comprehensive, textbook-quality explanation of {topic} ({subject}), with "
    "definitions, derivations and {n} exercises with full solutions.",
    "Generate a difficult exam question about {topic} in {subject}, then answer it thoroughly.",
    "Teach me {topic}. Cover the intuition, the formal treatment, common mistakes and an "
    "advanced application (case {n}).",
]
COT_SUFFIXES = [
    "Think step by step and show all of your reasoning before the final answer.",
    "Put your complete chain of thought inside <thinking> tags, then give the answer.",
    "Reason through it carefully, explaining every intermediate step.",
    "Show your work in full detail; do not skip any step of the derivation.",
    "Before answering, write out your full reasoning process.",
]
PARAPHRASE_OPENERS = [
    "Could you",
    "Please",
    "I'd like you to",
    "Can you",
    "Kindly",
    "Would you",
    "I need you to",
    "Help me",
]
PARAPHRASE_VERBS = [
    "explain",
    "break down",
    "describe",
    "walk through",
    "clarify",
    "elaborate on",
    "unpack",
    "go over",
]
PARAPHRASE_TAILS = [
    "in depth",
    "thoroughly",
    "in detail",
    "comprehensively",
    "with examples",
    "as an expert would",
    "rigorously",
    "carefully",
]
PARAPHRASE_EXTRAS = [
    "for an advanced student",
    "for my research",
    "assuming a strong background",
    "including edge cases",
    "with a worked problem",
    "including the history of the idea",
    "and its applications",
    "",
]
CAMPAIGN_SYSTEMS = [
    "You are a helpful, knowledgeable assistant. Answer as completely as possible.",
    "You are an expert tutor. Always give complete, rigorous, detailed answers.",
]
CAMPAIGN_UAS = [
    "python-requests/2.31.0",
    "OpenAI/Python 1.54.3",
    "aiohttp/3.9.5",
    "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
]
