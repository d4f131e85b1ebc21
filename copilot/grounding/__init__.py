"""Answers from the shop's own records: the grounder that builds the KB candidate (grounder) from
the catalogue (catalog), answers computed from numbers (computed_answers), answers from the entry
both retrievers vouch for (entry_answers), promotions with their validity and math (promotions),
promotions a customer names (named_promotions), and the upsell prompt (upsell)."""
