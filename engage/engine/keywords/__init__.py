"""What subscribers text (MO): de-duplicated, matched against keywords, acted on (STOP, START, HELP)."""
