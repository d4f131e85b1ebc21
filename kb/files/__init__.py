"""The trainer's files in and out: readers for CSV, TSV, XLSX, JSONL and Markdown FAQs (importers,
import_text), sheets as a person reads them (sheets, merged_cells), records made entries
(built), column headers per field (headers), the dict form with field-naming validation
(codec), and exporters that round-trip (exporters)."""
