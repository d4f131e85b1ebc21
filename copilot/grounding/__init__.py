"""Answers from the shop's own records: the grounder that builds the KB candidate (grounder) from
the catalogue (catalog), which product a conversation is about (focus), answers computed from
numbers (computed_answers), answers from the entry both retrievers vouch for (entry_answers),
promotions with their validity and math (promotions), promotions a customer names
(named_promotions), the terms of a gift asked about (gifts), the price-protection rule applied
to a purchase (price_protection), a follow-up read with the question before (follow_ups), the
candidates' order (dedupe), and the upsell prompt (upsell)."""
