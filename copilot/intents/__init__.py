"""What the customer wants: the taxonomy and keyword rules (rules), labelled examples and their
Redis store (examples; the shipped set is data/intent_examples.jsonl), the classifier that blends
rules with nearest labelled examples (classifier), and intents lent to a trainer's scripts and
FAQs that arrive without one (adoption)."""
