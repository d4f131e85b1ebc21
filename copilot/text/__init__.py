"""Text helpers every stage shares: character-bigram similarity (similarity), the numbers a
reply states and the KB supports (figures), and personal data masked out of what is stored
(masking)."""
