"""How the customer feels: the analyzer that scores negativity, anger and threats (analyzer) over
snownlp's sentiment model, read from its data files without importing snownlp (snow_model)."""
