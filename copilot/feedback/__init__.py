"""What agents did with suggestions: the suggestion records (records), the feedback log and its
acceptance statistics (log), and the knowledge gaps found in questions answered without
confidence (gaps)."""
