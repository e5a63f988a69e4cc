"""Vocabulary the generators draw from: a topic space to harvest, the many ways people ask
for reasoning, and the everyday material honest users write about."""

from __future__ import annotations

# A curriculum: subject -> concepts. Harvesters sweep it; honest specialists dwell in one.
SUBJECTS: dict[str, tuple[str, ...]] = {
    "calculus": (
        "the chain rule",
        "integration by parts",
        "Taylor series",
        "improper integrals",
        "the mean value theorem",
        "related rates",
        "L'Hopital's rule",
        "volumes of revolution",
    ),
    "linear algebra": (
        "eigenvalues",
        "the singular value decomposition",
        "change of basis",
        "the rank-nullity theorem",
        "Gram-Schmidt",
        "determinants",
        "least squares",
        "positive definite matrices",
    ),
    "probability": (
        "Bayes' theorem",
        "the central limit theorem",
        "conditional expectation",
        "Markov chains",
        "the birthday problem",
        "moment generating functions",
        "the law of large numbers",
        "Poisson processes",
    ),
    "organic chemistry": (
        "SN1 versus SN2 reactions",
        "aromaticity",
        "chirality",
        "aldol condensation",
        "Grignard reagents",
        "Diels-Alder reactions",
        "protecting groups",
        "E2 elimination",
    ),
    "algorithms": (
        "Dijkstra's algorithm",
        "dynamic programming on intervals",
        "union-find",
        "the master theorem",
        "topological sorting",
        "segment trees",
        "max-flow min-cut",
        "amortized analysis",
    ),
    "physics": (
        "Lagrangian mechanics",
        "the Doppler effect",
        "Gauss's law",
        "entropy",
        "the harmonic oscillator",
        "special relativity's time dilation",
        "Bernoulli's principle",
        "angular momentum",
    ),
    "economics": (
        "price elasticity",
        "comparative advantage",
        "the IS-LM model",
        "Nash equilibrium",
        "moral hazard",
        "the Solow growth model",
        "deadweight loss",
        "the Phillips curve",
    ),
    "law": (
        "consideration in contract law",
        "the hearsay rule",
        "adverse possession",
        "negligence per se",
        "the parol evidence rule",
        "strict liability",
        "promissory estoppel",
        "the exclusionary rule",
    ),
}

# Kinds of task a harvester asks of each concept, each with its synonyms.
TASKS: dict[str, tuple[str, ...]] = {
    "explain": ("explain", "describe", "break down", "walk me through", "clarify", "unpack"),
    "derive": ("derive", "prove", "show why", "demonstrate", "establish", "work out"),
    "solve": (
        "solve a worked problem on",
        "work through an example of",
        "do an exercise on",
        "solve a hard problem involving",
        "tackle a textbook problem about",
    ),
    "compare": ("compare", "contrast", "weigh up", "set side by side"),
}

OPENERS = (
    "",
    "Can you",
    "Could you",
    "Please",
    "I need you to",
    "Would you",
    "Help me",
    "I'd like you to",
    "Quick one:",
    "Hey, could you",
    "Kindly",
    "I want you to",
)

# Ways of coercing a chain of thought. Varied on purpose: no one phrase carries the campaign.
COT = (
    "Think step by step.",
    "Show your reasoning before the final answer.",
    "Reason it out carefully first, then answer.",
    "Lay out each step of your thinking.",
    "Walk me through your thought process in full.",
    "Before you answer, write out your whole chain of reasoning.",
    "Don't skip any steps.",
    "Explain your logic at every stage.",
    "Make every intermediate step explicit.",
    "Think it through out loud, then give the result.",
    "I want to see how you get there, not just the answer.",
    "Narrate your reasoning as you go.",
    "Spell out each inference you make.",
    "Go slowly and justify each move.",
    "Write your scratch work first.",
    "List your assumptions, reason from them one at a time, then conclude.",
    "Show all of your working.",
    "Start by reasoning privately, then present the full derivation.",
)

DEPTH = (
    "in detail",
    "thoroughly",
    "as completely as you can",
    "rigorously",
    "at length",
    "with full detail",
    "comprehensively",
    "exhaustively",
    "carefully",
)

AUDIENCE = (
    "",
    "for a graduate student",
    "as if for an exam",
    "for someone rusty on this",
    "at textbook level",
    "for my study notes",
    "for a reference sheet",
)

# Word-level synonyms a paraphraser swaps in.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "explain": ("clarify", "describe", "unpack", "elucidate"),
    "example": ("instance", "illustration", "case"),
    "problem": ("exercise", "question", "task"),
    "answer": ("result", "conclusion", "solution"),
    "detail": ("depth", "thoroughness"),
    "carefully": ("meticulously", "attentively", "methodically"),
    "step": ("stage", "move"),
    "full": ("complete", "entire"),
    "show": ("present", "display", "give"),
    "hard": ("difficult", "tricky", "challenging"),
}

# Honest material.
CHAT_ASKS = (
    "What's a good name for a golden retriever puppy?",
    "Write a short birthday message for my sister who loves hiking.",
    "How long should I boil an egg for a runny yolk?",
    "Summarise the plot of Pride and Prejudice in three sentences.",
    "What are some cheap weekend activities in Lisbon?",
    "Help me write an email asking my landlord to fix the heating.",
    "Is it better to stretch before or after running?",
    "Give me three dinner ideas with chickpeas.",
    "How do I politely decline a wedding invitation?",
    "What's the difference between a latte and a flat white?",
    "Recommend a sci-fi novel for someone who liked The Martian.",
    "How do I get rid of fruit flies in my kitchen?",
    "Write a limerick about a cat who hates Mondays.",
    "What should I pack for a three-day business trip?",
    "Explain what a Roth IRA is in plain words.",
    "Translate 'where is the train station' into Italian.",
    "My sourdough is too dense, what am I doing wrong?",
    "Give me a 20-minute bodyweight workout.",
)
FOLLOW_UPS = (
    "Thanks! Can you make it shorter?",
    "Any other options?",
    "Why is that?",
    "Can you give an example?",
    "Make it a bit more formal.",
    "Great, and what about kids?",
    "ok and if I only have an hour?",
    "hmm, that didn't work. other ideas?",
)
LANGUAGES = ("German", "French", "Spanish", "Japanese", "Portuguese", "Italian", "Dutch")
DOC_KINDS = (
    "product description",
    "support article",
    "newsletter paragraph",
    "press release",
    "blog intro",
    "user manual section",
    "marketing email",
)
PRODUCTS = (
    "a steel water bottle",
    "a standing desk",
    "a budgeting app",
    "noise-cancelling headphones",
    "a cat water fountain",
    "an e-bike",
    "a project tracker",
    "a tea sampler",
)
CODE_TASKS = (
    "fix the failing test in tests/test_parser.py",
    "add a --verbose flag to the CLI",
    "refactor the retry loop in client.py",
    "rename the config field timeout to timeout_s",
    "find why the cache returns stale entries",
    "add type hints to utils.py",
    "write a migration for the new orders table",
    "speed up the CSV import",
)
SAAS_INPUTS = (
    "Customer asks: my invoice shows the wrong VAT number, how do I change it?",
    "Customer asks: can I export my data to CSV?",
    "Customer asks: the mobile app logs me out every hour.",
    "Customer asks: how do I add a teammate to my workspace?",
    "Customer asks: I was charged twice this month.",
    "Customer asks: where do I find the API token?",
    "Customer asks: does the plan include SSO?",
    "Customer asks: how do I cancel my subscription?",
)
